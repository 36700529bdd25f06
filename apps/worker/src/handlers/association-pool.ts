import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { DicomAssociation } from '@deidflow/core';

/** An association left idle this long is released (the next instance of its job opens another). */
const IDLE_MS = 2_000;
/** A failed open is remembered this long: the instances behind it fail at once instead of each waiting for the same timeout. */
const FAILED_OPEN_MS = 5_000;

interface Slot {
  association?: DicomAssociation;
  /** The last user's turn: the next one starts after it (one operation at a time on an association). */
  tail: Promise<void>;
  users: number;
  idle?: NodeJS.Timeout;
  failure?: { error: unknown; at: number };
}

/**
 * The associations a worker holds toward modalities, one per key (a node, the calling AE title and
 * the presentation context an instance needs), each used by one instance at a time: the instances
 * that a worker takes at once queue for it instead of opening as many associations as the worker's
 * concurrency (a PACS serves a few at a time). Released once idle, and at shutdown.
 */
@Injectable()
export class AssociationPool implements OnModuleDestroy {
  private readonly slots = new Map<string, Slot>();

  /** Runs `work` on the key's association, opened with `open` when there is none or it ended. */
  async use<T>(key: string, open: () => Promise<DicomAssociation>, work: (association: DicomAssociation) => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { tail: Promise.resolve(), users: 0 };
      this.slots.set(key, slot);
    }
    const previous = slot.tail;
    let done!: () => void;
    slot.tail = new Promise((resolve) => (done = resolve));
    slot.users++;
    clearTimeout(slot.idle);
    await previous;
    try {
      if (!slot.association?.usable) {
        if (slot.failure && Date.now() - slot.failure.at < FAILED_OPEN_MS) throw slot.failure.error;
        try {
          slot.association = await open();
          slot.failure = undefined;
        } catch (err) {
          slot.association = undefined;
          slot.failure = { error: err, at: Date.now() };
          throw err;
        }
      }
      return await work(slot.association);
    } finally {
      slot.users--;
      done();
      if (slot.users === 0) this.releaseWhenIdle(key, slot);
    }
  }

  /** Associations held now (idle ones included). */
  get size(): number {
    return [...this.slots.values()].filter((slot) => slot.association?.usable).length;
  }

  async onModuleDestroy(): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(slots.map(async (slot) => {
      clearTimeout(slot.idle);
      await slot.association?.release();
    }));
  }

  private releaseWhenIdle(key: string, slot: Slot): void {
    slot.idle = setTimeout(() => {
      if (slot.users > 0 || this.slots.get(key) !== slot) return;
      this.slots.delete(key);
      void slot.association?.release();
    }, IDLE_MS);
    slot.idle.unref();
  }
}
