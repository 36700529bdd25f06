import { connect, Socket } from 'node:net';
import {
  AssociateAccept,
  COMMAND_FIELD,
  decodeAssociateAc,
  decodeAssociateRj,
  decodePData,
  decodeResponse,
  DimseResponse,
  encodeAbort,
  encodeAssociateRq,
  encodeCEchoRq,
  encodeCStoreRq,
  encodeReleaseRp,
  encodeReleaseRq,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  Pdu,
  PDU_TYPE,
  pDataPdus,
  pDataPdusOfStream,
  PduReader,
  ProposedPresentationContext,
  VERIFICATION_SOP_CLASS,
} from '@deidflow/dicom';

/** A remote DICOM node (Orthanc's DicomModalities entry). */
export interface RemoteModality {
  readonly aet: string;
  readonly host: string;
  readonly port: number;
}

export interface AssociationOptions {
  readonly callingAet: string;
  /** Longest wait for the connection, the association, each response, each drain and the release (Orthanc's DicomScuTimeout). */
  readonly timeoutMs: number;
}

/**
 * The remote could not be reached, refused the association, broke the protocol, did not answer in
 * time, or ended the association. `kind` 'closed': the connection or the association ended under
 * the operation (worth one more try on a new association); the others say the remote would fail
 * the same way again (or took too long already).
 */
export class DicomNetworkError extends Error {
  constructor(
    message: string,
    readonly kind: 'closed' | 'timeout' | 'refused' | 'protocol' = 'protocol',
  ) {
    super(message);
  }
}

/** Largest PDU this side accepts: it only receives short ones (associate answers, response command sets). */
const MAX_RECEIVED_PDU = 64 * 1024;
/** Largest response command set (a few elements; an error comment at most). */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** After an A-ABORT is queued, the connection is cut this long after at the latest. */
const ABORT_LINGER_MS = 1_000;
/** PDUs received while an operation is under way and not taken: a few at most from a sane peer. */
const MAX_QUEUED_PDUS = 16;

/** A wait that a failure of the association ends at once. */
interface Pending {
  reject(err: Error): void;
}

/**
 * One association of a storage SCU (C-ECHO, C-STORE), one operation at a time (no asynchronous
 * operations window is negotiated). A C-STORE sends the dataset's bytes as given, on a presentation
 * context accepted for its SOP class and its transfer syntax: never transcoded, never copied (each
 * PDU is its header and a view of the dataset, written as the socket drains).
 */
export class DicomAssociation {
  private readonly reader = new PduReader(MAX_RECEIVED_PDU);
  private messageId = 0;
  /** PDUs received and not yet taken, and the one wait for the next (one operation at a time). */
  private readonly received: Pdu[] = [];
  private nextPdu?: { resolve: (pdu: Pdu) => void };
  private readonly pending = new Set<Pending>();
  private failure?: Error;
  private accept: AssociateAccept = { accepted: new Map(), maxPduLength: 0 };
  private contexts: readonly ProposedPresentationContext[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly remote: RemoteModality,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const pdu of this.reader.push(chunk)) this.deliver(pdu);
      } catch (err) {
        this.fail(new DicomNetworkError(`${this.describe()} sent a malformed PDU: ${(err as Error).message}`));
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.fail(new DicomNetworkError(`connection to ${this.describe()} failed: ${err.message}`, 'closed')));
    socket.on('close', () => this.fail(new DicomNetworkError(`${this.describe()} closed the connection`, 'closed')));
  }

  /** Opens an association proposing `contexts`; rejects with DicomNetworkError when it is not accepted. */
  static async open(remote: RemoteModality, contexts: readonly ProposedPresentationContext[], options: AssociationOptions): Promise<DicomAssociation> {
    const socket = connect({ host: remote.host, port: remote.port });
    const association = new DicomAssociation(socket, remote, options.timeoutMs);
    try {
      await association.wait<void>('connection', (resolve) => socket.once('connect', () => resolve()));
      socket.setNoDelay(true);
      association.contexts = contexts;
      await association.write(
        encodeAssociateRq({
          callingAet: options.callingAet,
          calledAet: remote.aet,
          contexts,
          maxPduLength: MAX_RECEIVED_PDU,
          implementationClassUid: IMPLEMENTATION_CLASS_UID,
          implementationVersionName: IMPLEMENTATION_VERSION_NAME,
        }),
      );
      const answer = await association.next('association answer');
      if (answer.type === PDU_TYPE.AssociateRj) {
        const { result, source, reason } = association.decoded(() => decodeAssociateRj(answer.body));
        throw new DicomNetworkError(`${association.describe()} refused the association (${result === 1 ? 'permanent' : 'transient'}, source ${source}, reason ${reason})`, 'refused');
      }
      if (answer.type !== PDU_TYPE.AssociateAc) throw new DicomNetworkError(`${association.describe()} answered the association with PDU type ${answer.type}`);
      association.accept = association.decoded(() => decodeAssociateAc(answer.body));
      return association;
    } catch (err) {
      socket.destroy();
      // The connection refused or cut before the association was accepted: the node refuses it (not worth a retry on the spot).
      throw err instanceof DicomNetworkError && err.kind === 'closed' ? new DicomNetworkError(err.message, 'refused') : err;
    }
  }

  /**
   * The accepted presentation context for `abstractSyntaxUid` in `transferSyntaxUid`; undefined when
   * the remote accepted none (it does not take that SOP class, or not in that syntax).
   */
  contextFor(abstractSyntaxUid: string, transferSyntaxUid: string): number | undefined {
    return this.contexts.find((context) => context.abstractSyntaxUid === abstractSyntaxUid && this.accept.accepted.get(context.id) === transferSyntaxUid)?.id;
  }

  /** Whether the association can still carry an operation (not failed, aborted or released by either side). */
  get usable(): boolean {
    return !this.failure && !this.socket.destroyed;
  }

  /** C-ECHO; resolves to the response's status. */
  async echo(): Promise<number> {
    const context = this.contexts.find((candidate) => candidate.abstractSyntaxUid === VERIFICATION_SOP_CLASS && this.accept.accepted.has(candidate.id));
    if (!context) throw new DicomNetworkError(`${this.describe()} did not accept the Verification SOP class`);
    const messageId = this.nextMessageId();
    await this.writePData(pDataPdus(context.id, true, encodeCEchoRq(messageId, VERIFICATION_SOP_CLASS), this.accept.maxPduLength));
    return (await this.response(messageId, COMMAND_FIELD.CEchoRsp)).status;
  }

  /**
   * C-STORE of one dataset, encoded in the syntax of context `contextId` (contextFor), in memory or
   * as chunks streamed from the store (a large file is never held whole); resolves to the response.
   */
  async store(contextId: number, sopClassUid: string, sopInstanceUid: string, dataset: Uint8Array | AsyncIterable<Uint8Array>): Promise<DimseResponse> {
    const messageId = this.nextMessageId();
    const maxPdu = this.accept.maxPduLength;
    await this.writePData(pDataPdus(contextId, true, encodeCStoreRq(messageId, sopClassUid, sopInstanceUid), maxPdu));
    await this.writePData(dataset instanceof Uint8Array ? pDataPdus(contextId, false, dataset, maxPdu) : pDataPdusOfStream(contextId, false, dataset, maxPdu));
    return this.response(messageId, COMMAND_FIELD.CStoreRsp);
  }

  /** A-RELEASE, then the connection ends (the requestor closes it, PS3.8); one that cannot be released is aborted. */
  async release(): Promise<void> {
    try {
      await this.write(encodeReleaseRq());
      const answer = await this.next('release answer');
      if (answer.type !== PDU_TYPE.ReleaseRp) throw new DicomNetworkError(`${this.describe()} answered the release with PDU type ${answer.type}`);
      this.socket.destroy();
    } catch {
      this.abort();
    }
  }

  /** A-ABORT, sent after what is already queued, then the connection is cut (once: later calls change nothing). */
  abort(): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.fail(new DicomNetworkError(`the association with ${this.describe()} was aborted`));
    const cut = setTimeout(() => this.socket.destroy(), ABORT_LINGER_MS);
    cut.unref();
    this.socket.end(encodeAbort(), () => {
      clearTimeout(cut);
      this.socket.destroy();
    });
  }

  private describe(): string {
    return `${this.remote.aet} (${this.remote.host}:${this.remote.port})`;
  }

  private nextMessageId(): number {
    this.messageId = (this.messageId % 0xffff) + 1;
    return this.messageId;
  }

  /** The command set of the response to `messageId` (its fragments reassembled, up to MAX_RESPONSE_BYTES). */
  private async response(messageId: number, commandField: number): Promise<DimseResponse> {
    const fragments: Buffer[] = [];
    let size = 0;
    for (;;) {
      const pdu = await this.next('response');
      if (pdu.type !== PDU_TYPE.PData) throw new DicomNetworkError(`${this.describe()} sent PDU type ${pdu.type} instead of a response`);
      for (const pdv of this.decoded(() => decodePData(pdu.body))) {
        if (!pdv.isCommand) throw new DicomNetworkError(`${this.describe()} sent a dataset with its response`);
        fragments.push(pdv.data);
        size += pdv.data.length;
        if (size > MAX_RESPONSE_BYTES) throw new DicomNetworkError(`${this.describe()} sent a response of more than ${MAX_RESPONSE_BYTES} bytes`);
        if (!pdv.isLast) continue;
        const response = this.decoded(() => decodeResponse(Buffer.concat(fragments)));
        if (response.commandField !== commandField || response.messageIdBeingRespondedTo !== messageId) {
          throw new DicomNetworkError(`${this.describe()} answered another request (command ${response.commandField.toString(16)}, message ${response.messageIdBeingRespondedTo})`);
        }
        return response;
      }
    }
  }

  /** What a decoder makes of a PDU the remote sent; a malformed one is the remote's protocol error. */
  private decoded<T>(decode: () => T): T {
    try {
      return decode();
    } catch (err) {
      throw new DicomNetworkError(`${this.describe()} sent a malformed PDU: ${(err as Error).message}`);
    }
  }

  private deliver(pdu: Pdu): void {
    if (pdu.type === PDU_TYPE.Abort) {
      this.fail(new DicomNetworkError(`${this.describe()} aborted the association`, 'closed'));
      this.socket.destroy();
      return;
    }
    if (pdu.type === PDU_TYPE.ReleaseRq) {
      // The remote ends the association itself: agree, and fail what waits.
      this.fail(new DicomNetworkError(`${this.describe()} released the association`, 'closed'));
      this.socket.end(encodeReleaseRp());
      return;
    }
    const waiting = this.nextPdu;
    this.nextPdu = undefined;
    if (waiting) waiting.resolve(pdu);
    else if (this.received.length < MAX_QUEUED_PDUS) this.received.push(pdu);
    else {
      this.fail(new DicomNetworkError(`${this.describe()} sent PDUs nobody asked for`));
      this.socket.destroy();
    }
  }

  /** The first failure ends every wait at once, and every later one. */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const wait of this.pending) wait.reject(this.failure);
    this.pending.clear();
  }

  /** The next PDU received, within the timeout. */
  private next(what: string): Promise<Pdu> {
    const ready = this.received.shift();
    if (ready) return Promise.resolve(ready);
    return this.wait<Pdu>(what, (resolve) => (this.nextPdu = { resolve }), () => (this.nextPdu = undefined));
  }

  /** Writes P-DATA-TF PDUs (header, then a view of the data), waiting for the socket to drain when it asks to. */
  private async writePData(pdus: Iterable<[Buffer, Uint8Array]> | AsyncIterable<[Buffer, Uint8Array]>): Promise<void> {
    for await (const [header, fragment] of pdus) {
      this.socket.cork();
      this.socket.write(header);
      const room = this.socket.write(fragment);
      this.socket.uncork();
      if (!room) await this.drained();
      else if (this.failure) throw this.failure;
    }
  }

  private async write(pdu: Buffer): Promise<void> {
    if (!this.socket.write(pdu)) await this.drained();
    else if (this.failure) throw this.failure;
  }

  private drained(): Promise<void> {
    let onDrain: () => void = () => undefined;
    return this.wait<void>(
      'room to send (the remote reads nothing)',
      (resolve) => {
        onDrain = () => resolve();
        this.socket.once('drain', onDrain);
      },
      () => this.socket.off('drain', onDrain),
    );
  }

  /**
   * A promise settled by `start`'s resolve, or rejected by the association's failure (a timeout
   * is one); `cleanup` runs however it ends. Nothing is left attached to the socket afterwards.
   */
  private wait<T>(what: string, start: (resolve: (value: T) => void) => void, cleanup: () => void = () => undefined): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      // A remote that does not answer in time leaves the association in an unknown state: it fails whole.
      const timer = setTimeout(() => this.fail(new DicomNetworkError(`no ${what} from ${this.describe()} within ${this.timeoutMs} ms`, 'timeout')), this.timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(entry);
        cleanup();
      };
      this.pending.add(entry);
      start((value) => {
        settle();
        resolve(value);
      });
    });
  }
}
