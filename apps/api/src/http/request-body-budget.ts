import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

interface Waiter {
  bytes: number;
  grant: () => void;
}

/**
 * The memory that request bodies being received may take at once. Bodies are read whole into
 * memory (a DICOM file is parsed whole, as Orthanc does), so without a bound 30 uploads of 100 MB
 * at once took the API to 3.4 GB: enough clients, or big enough files, and the process is killed.
 * A body whose length is announced reserves it before its first byte is read; when the budget is
 * spent, it waits, first come first served, with its socket unread (TCP slows the client down).
 * A body larger than the whole budget waits until it is alone.
 */
export class RequestBodyBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** Bytes reserved by bodies being received or handled now. */
  get reserved(): number {
    return this.used;
  }

  /** Requests waiting for their body's bytes. */
  get waitingRequests(): number {
    return this.waiting.length;
  }

  /**
   * Resolves to the bytes reserved (to give back with release()) once they fit, or to 0 when
   * `signal` aborts first (the client went away while it waited): nothing is reserved then.
   */
  reserve(bytes: number, signal?: AbortSignal): Promise<number> {
    const wanted = Math.min(bytes, this.capacity);
    if (signal?.aborted) return Promise.resolve(0);
    if (this.waiting.length === 0 && this.used + wanted <= this.capacity) {
      this.used += wanted;
      return Promise.resolve(wanted);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { bytes: wanted, grant: () => resolve(wanted) };
      this.waiting.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(waiter);
          if (at < 0) return; // granted already: its owner releases it
          this.waiting.splice(at, 1);
          resolve(0);
          this.grantWaiting(); // the next one may fit where this one did not
        },
        { once: true },
      );
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.grantWaiting();
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }
}

/**
 * Bodies below this are not counted: small JSON requests, whose bytes are no threat, never wait
 * behind an upload.
 */
export const COUNTED_FROM_BYTES = 64 * 1024;

/** Requests whose body comes without a length (chunked): what reserves its memory once the body parser has read COUNTED_FROM_BYTES of it. */
const unannouncedBodies = new WeakMap<IncomingMessage, () => Promise<boolean>>();

/**
 * For the body parser, once a body sent without a length has outgrown COUNTED_FROM_BYTES: waits
 * until the body limit (its length is unknown) is reserved for it. False when the client went away
 * meanwhile (nothing is reserved then).
 */
export function reserveUnannouncedBody(request: IncomingMessage): Promise<boolean> {
  return unannouncedBodies.get(request)?.() ?? Promise.resolve(true);
}

/**
 * Holds each request with a large body until `budget` has room for it, and gives the room back when
 * its answer is done (or its connection closed). A body whose length is announced reserves it before
 * it is read; a body sent without one (chunked) is read up to COUNTED_FROM_BYTES, so that a small one
 * never waits, and then reserves the body limit (pooledBodyParser asks, via reserveUnannouncedBody).
 */
export function limitRequestBodyMemory(fastify: FastifyInstance, budget: RequestBodyBudget, bodyLimit: number): void {
  fastify.addHook('preParsing', async (request, reply, payload) => {
    const response = reply.raw;
    if (request.headers['content-length'] === undefined) {
      if (request.headers['transfer-encoding'] !== undefined) unannouncedBodies.set(request.raw, () => reserveFor(response, bodyLimit));
      return payload;
    }
    const announced = Number(request.headers['content-length']);
    // Over the limit: the body parser refuses it without reading it.
    if (!Number.isSafeInteger(announced) || announced < COUNTED_FROM_BYTES || announced > bodyLimit) return payload;
    await reserveFor(response, announced);
    return payload;
  });

  /** Reserves `bytes` for the request answered by `response`, given back once the answer is done; false when the client went away first. */
  async function reserveFor(response: ServerResponse, bytes: number): Promise<boolean> {
    if (response.destroyed) return false;
    const gone = new AbortController();
    const abort = () => gone.abort();
    response.once('close', abort);
    const reserved = await budget.reserve(bytes, gone.signal);
    response.removeListener('close', abort);
    if (reserved === 0) return false;
    // 'close' comes once the answer is written, or when the connection closes before.
    if (response.destroyed) budget.release(reserved);
    else response.once('close', () => budget.release(reserved));
    return true;
  }
}
