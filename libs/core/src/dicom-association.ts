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
  encodePData,
  encodeReleaseRp,
  encodeReleaseRq,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  Pdu,
  PDU_TYPE,
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
  /** Longest wait for the connection, the association, each response and the release (Orthanc's DicomScuTimeout). */
  readonly timeoutMs: number;
}

/** The remote could not be reached, refused the association, broke the protocol or did not answer in time. */
export class DicomNetworkError extends Error {}

/** Largest PDU this side accepts: it only receives short ones (associate answers, response command sets). */
const MAX_RECEIVED_PDU = 64 * 1024;

/**
 * One association of a storage SCU (C-ECHO, C-STORE), one operation at a time (no asynchronous
 * operations window is negotiated). A C-STORE sends the dataset's bytes as given, on a presentation
 * context accepted for its SOP class and its transfer syntax: never transcoded.
 */
export class DicomAssociation {
  private readonly reader = new PduReader(MAX_RECEIVED_PDU);
  private messageId = 0;
  private waiting?: { resolve: (pdu: Pdu) => void; reject: (err: Error) => void };
  private failure?: Error;
  private readonly received: Pdu[] = [];
  /** Rejects once the connection is gone: every wait races it. */
  private readonly closed: Promise<never>;

  private constructor(
    private readonly socket: Socket,
    private readonly remote: RemoteModality,
    private readonly timeoutMs: number,
    private accept: AssociateAccept = { accepted: new Map(), maxPduLength: 0 },
    private contexts: readonly ProposedPresentationContext[] = [],
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const pdu of this.reader.push(chunk)) this.deliver(pdu);
      } catch (err) {
        this.fail(new DicomNetworkError(`${this.remote.aet} sent a malformed PDU: ${(err as Error).message}`));
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.fail(new DicomNetworkError(`connection to ${this.describe()} failed: ${err.message}`)));
    this.closed = new Promise<never>((_, reject) =>
      socket.once('close', () => {
        this.fail(new DicomNetworkError(`${this.describe()} closed the connection`));
        reject(this.failure);
      }),
    );
    this.closed.catch(() => undefined);
  }

  /** Opens an association proposing `contexts`; rejects with DicomNetworkError when it is not accepted. */
  static async open(remote: RemoteModality, contexts: readonly ProposedPresentationContext[], options: AssociationOptions): Promise<DicomAssociation> {
    const socket = connect({ host: remote.host, port: remote.port });
    const association = new DicomAssociation(socket, remote, options.timeoutMs);
    try {
      await association.within(new Promise<void>((resolve) => socket.once('connect', () => resolve())), 'connection');
      socket.setNoDelay(true);
      association.contexts = contexts;
      await association.write([
        encodeAssociateRq({
          callingAet: options.callingAet,
          calledAet: remote.aet,
          contexts,
          maxPduLength: MAX_RECEIVED_PDU,
          implementationClassUid: IMPLEMENTATION_CLASS_UID,
          implementationVersionName: IMPLEMENTATION_VERSION_NAME,
        }),
      ]);
      const answer = await association.next('association');
      if (answer.type === PDU_TYPE.AssociateRj) {
        const { result, source, reason } = decodeAssociateRj(answer.body);
        throw new DicomNetworkError(`${association.describe()} refused the association (${result === 1 ? 'permanent' : 'transient'}, source ${source}, reason ${reason})`);
      }
      if (answer.type !== PDU_TYPE.AssociateAc) throw new DicomNetworkError(`${association.describe()} answered the association with PDU type ${answer.type}`);
      association.accept = decodeAssociateAc(answer.body);
      return association;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /**
   * The accepted presentation context for `abstractSyntaxUid` in `transferSyntaxUid`; undefined when
   * the remote accepted none (it does not take that SOP class, or not in that syntax).
   */
  contextFor(abstractSyntaxUid: string, transferSyntaxUid: string): number | undefined {
    return this.contexts.find((context) => context.abstractSyntaxUid === abstractSyntaxUid && this.accept.accepted.get(context.id) === transferSyntaxUid)?.id;
  }

  /** C-ECHO; resolves to the response's status. */
  async echo(): Promise<number> {
    const context = this.contexts.find((candidate) => candidate.abstractSyntaxUid === VERIFICATION_SOP_CLASS && this.accept.accepted.has(candidate.id));
    if (!context) throw new DicomNetworkError(`${this.describe()} did not accept the Verification SOP class`);
    const messageId = this.nextMessageId();
    await this.write(encodePData(context.id, true, encodeCEchoRq(messageId, VERIFICATION_SOP_CLASS), this.accept.maxPduLength));
    return (await this.response(messageId, COMMAND_FIELD.CEchoRsp)).status;
  }

  /** C-STORE of one dataset, encoded in the syntax of context `contextId` (contextFor); resolves to the response. */
  async store(contextId: number, sopClassUid: string, sopInstanceUid: string, dataset: Uint8Array): Promise<DimseResponse> {
    const messageId = this.nextMessageId();
    await this.write(encodePData(contextId, true, encodeCStoreRq(messageId, sopClassUid, sopInstanceUid), this.accept.maxPduLength));
    await this.write(encodePData(contextId, false, dataset, this.accept.maxPduLength));
    return this.response(messageId, COMMAND_FIELD.CStoreRsp);
  }

  /** A-RELEASE, then the connection ends; an association that cannot be released is aborted. */
  async release(): Promise<void> {
    try {
      await this.write([encodeReleaseRq()]);
      const answer = await this.next('release');
      if (answer.type !== PDU_TYPE.ReleaseRp) throw new DicomNetworkError(`${this.describe()} answered the release with PDU type ${answer.type}`);
      this.socket.end();
    } catch {
      this.abort();
    }
  }

  abort(): void {
    if (!this.socket.destroyed) this.socket.end(encodeAbort());
    this.socket.destroy();
  }

  private describe(): string {
    return `${this.remote.aet} (${this.remote.host}:${this.remote.port})`;
  }

  private nextMessageId(): number {
    this.messageId = (this.messageId % 0xffff) + 1;
    return this.messageId;
  }

  /** The command set of the response to `messageId` (its fragments reassembled). */
  private async response(messageId: number, commandField: number): Promise<DimseResponse> {
    const fragments: Buffer[] = [];
    for (;;) {
      const pdu = await this.next('response');
      if (pdu.type !== PDU_TYPE.PData) throw new DicomNetworkError(`${this.describe()} sent PDU type ${pdu.type} instead of a response`);
      for (const pdv of decodePData(pdu.body)) {
        if (!pdv.isCommand) throw new DicomNetworkError(`${this.describe()} sent a dataset with its response`);
        fragments.push(pdv.data);
        if (!pdv.isLast) continue;
        const response = decodeResponse(Buffer.concat(fragments));
        if (response.commandField !== commandField || response.messageIdBeingRespondedTo !== messageId) {
          throw new DicomNetworkError(`${this.describe()} answered another request (command ${response.commandField.toString(16)}, message ${response.messageIdBeingRespondedTo})`);
        }
        return response;
      }
    }
  }

  private deliver(pdu: Pdu): void {
    if (pdu.type === PDU_TYPE.Abort) {
      this.fail(new DicomNetworkError(`${this.describe()} aborted the association`));
      this.socket.destroy();
      return;
    }
    if (pdu.type === PDU_TYPE.ReleaseRq) {
      // The remote ends the association itself: agree, and fail what waits.
      this.socket.end(encodeReleaseRp());
      this.fail(new DicomNetworkError(`${this.describe()} released the association`));
      return;
    }
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve(pdu);
    } else this.received.push(pdu);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(this.failure);
    }
  }

  /** The next PDU received, within the timeout. */
  private next(what: string): Promise<Pdu> {
    const ready = this.received.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return this.within(new Promise<Pdu>((resolve, reject) => (this.waiting = { resolve, reject })), what);
  }

  /** Writes PDUs, waiting for the socket to drain between them (a large dataset is not all buffered at once). */
  private async write(pdus: Buffer[]): Promise<void> {
    for (const pdu of pdus) {
      if (this.failure) throw this.failure;
      if (!this.socket.write(pdu)) await this.within(new Promise<void>((resolve) => this.socket.once('drain', () => resolve())), 'sending');
    }
  }

  private async within<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DicomNetworkError(`no ${what} from ${this.describe()} within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([work, timeUp, this.closed]);
    } finally {
      clearTimeout(timer);
    }
  }
}
