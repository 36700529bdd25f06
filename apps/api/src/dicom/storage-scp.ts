import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { association as dimseAssociation, constants, Dataset, requests, responses, Scp } from 'dcmjs-dimse';
import { MemoryBudget, OrthancError } from '@deidflow/common';
import { AppConfig } from '@deidflow/config';
import { InstanceStoreService } from '@deidflow/core';
import { MetadataRepository } from '@deidflow/database';
import { assertAnnouncedInstance, DatasetMismatchError, negotiateStorage, StoreCommand, storedFileHeader } from '@deidflow/dicom';

const { PresentationContextResult, RejectReason, RejectResult, RejectSource, Status } = constants;

/** The largest PDU this server receives, announced in every A-ASSOCIATE-AC (DCMTK's default is 16 KiB). */
export const MAX_PDU_LENGTH = 256 * 1024;

/** C-STORE statuses of PS3.4 B.2.3 and PS3.7 C.4.1.1.3 beyond dcmjs-dimse's list. */
const STORE_STATUS = {
  Success: Status.Success,
  /** Refused: the request came on a context not accepted, or not for its SOP class. */
  SopClassNotSupported: 0x0122,
  /** Refused: out of resources (the SCU may send it again later): the index or the store failed, or the dataset is too large. */
  OutOfResources: 0xa700,
  /** Error: the dataset is not the instance the request announced. */
  DataSetDoesNotMatchSopClass: Status.DataSetSopClassMismatch,
  /** Error: cannot understand (not a dataset the engine reads). */
  CannotUnderstand: 0xc000,
} as const;

/** What every association of the server shares. */
export interface StorageScpContext {
  readonly config: AppConfig;
  readonly store: InstanceStoreService;
  readonly metadata: MetadataRepository;
  /** The API's memory for request bodies, which received datasets share. */
  readonly memory: MemoryBudget;
  readonly logger: Logger;
}

/**
 * The file of a C-STORE while its dataset arrives: the header made from the request, then the
 * dataset's bytes. They count against the API's memory for request bodies (HTTP_BODIES_MEMORY_LIMIT)
 * and against HTTP_BODY_LIMIT: past either the rest is dropped and the C-STORE answered
 * OutOfResources (the sender retries later), so that associations cannot fill the API's memory.
 * dcmjs-dimse writes without waiting, so the bytes cannot wait for room as an HTTP body does.
 */
class DatasetCollector extends Writable {
  private chunks: Uint8Array[];
  private reserved = 0;
  size: number;
  refused?: 'too-large' | 'no-memory' | 'context-not-accepted';

  constructor(
    readonly command: StoreCommand,
    private readonly limit: number,
    private readonly budget: MemoryBudget,
    /** The request came on a context that was not accepted for it: its bytes are dropped as they come. */
    contextAccepted: boolean,
  ) {
    super();
    const header = storedFileHeader(command);
    this.chunks = [header];
    this.size = header.length;
    if (!contextAccepted) this.refuse('context-not-accepted');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.size += chunk.length;
    if (this.refused) return done();
    if (this.size > this.limit) this.refuse('too-large');
    else if (!this.budget.tryReserve(chunk.length)) this.refuse('no-memory');
    else {
      this.reserved += chunk.length;
      this.chunks.push(chunk);
    }
    done();
  }

  /** The whole file, once (one copy of the chunks, which are let go; the memory stays reserved until dispose). */
  takeFile(): Buffer {
    const file = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    return file;
  }

  /** Gives the memory back (after storing, or when the association ends first); idempotent. */
  dispose(): void {
    this.chunks = [];
    this.budget.release(this.reserved);
    this.reserved = 0;
  }

  private refuse(reason: NonNullable<DatasetCollector['refused']>): void {
    this.refused = reason;
    this.dispose();
  }
}

/**
 * The SCP class that dcmjs-dimse instantiates for each association (one per connection): a storage
 * SCP, as Orthanc's: C-ECHO, and C-STORE of every storage SOP class, each instance stored exactly as
 * a POST /instances of the same file would store it (same index, same IDs, AlreadyStored kept).
 */
export function storageScpClass(context: StorageScpContext): new (socket: Socket, options: object) => Scp {
  const { config, store, metadata, memory, logger } = context;

  return class StorageScp extends Scp {
    /** Datasets arriving or waiting to be stored, by request; their memory is given back if the connection ends first. */
    private readonly collectors = new Map<object, DatasetCollector>();
    private callingAeTitle = '';
    private calledAeTitle = '';

    constructor(private readonly socket: Socket, options: object) {
      super(socket, options);
      socket.once('close', () => {
        for (const collector of this.collectors.values()) collector.dispose();
        this.collectors.clear();
      });
    }

    override associationRequested(association: dimseAssociation.Association): void {
      this.callingAeTitle = association.getCallingAeTitle().trim();
      this.calledAeTitle = association.getCalledAeTitle().trim();
      // Ignoring case, as Orthanc does unless StrictAetComparison.
      if (config.DICOM_CHECK_CALLED_AET && this.calledAeTitle.toUpperCase() !== config.DICOM_AET.trim().toUpperCase()) {
        logger.warn({ callingAet: this.callingAeTitle, calledAet: this.calledAeTitle }, 'association refused: called AE title is not this server\'s');
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
        return;
      }
      const proposed = association.getPresentationContexts().map(({ id }) => {
        const context = association.getPresentationContext(id);
        return { id, abstractSyntaxUid: context.getAbstractSyntaxUid(), transferSyntaxUids: context.getTransferSyntaxUids() };
      });
      for (const answer of negotiateStorage(proposed)) {
        const context = association.getPresentationContext(answer.id);
        if ('transferSyntaxUid' in answer) context.setResult(PresentationContextResult.Accept, answer.transferSyntaxUid);
        else if (answer.rejected === 'abstract-syntax-not-supported') context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      // What this side receives (dcmjs-dimse announces the smaller of this and the caller's own, 0 meaning no limit).
      association.setMaxPduLength(MAX_PDU_LENGTH);
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    /** A-ABORT from the caller (it gave up, e.g. a file it could not convert): the connection ends at once (PS3.8 9.1.8). */
    override abort(source: number, reason: number): void {
      logger.warn({ callingAet: this.callingAeTitle, source, reason }, 'DICOM association aborted by the caller');
      this.socket.destroy();
    }

    override cEchoRequest(request: requests.CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
      const response = responses.CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }

    /** Where the dataset of a C-STORE goes while it arrives: bytes, never parsed by dcmjs (the engine reads them once, at storing). */
    override createStoreWritableStream(context: dimseAssociation.PresentationContext, request: requests.CStoreRequest): Writable {
      const command: StoreCommand = {
        sopClassUid: request.getAffectedSopClassUid() ?? '',
        sopInstanceUid: request.getAffectedSopInstanceUid() ?? '',
        transferSyntaxUid: context.getAcceptedTransferSyntaxUid() ?? '',
        callingAeTitle: this.callingAeTitle,
      };
      // dcmjs-dimse delivers data on any context: one refused, or accepted for another SOP class, is refused here (DCMTK would abort).
      const accepted = context.getResult() === PresentationContextResult.Accept && context.getAbstractSyntaxUid().trim() === command.sopClassUid.trim();
      const collector = new DatasetCollector(command, config.HTTP_BODY_LIMIT, memory, accepted);
      this.collectors.set(request, collector);
      return collector;
    }

    override createDatasetFromStoreWritableStream(_writable: Writable, context: dimseAssociation.PresentationContext, callback: (dataset: Dataset) => void): void {
      // cStoreRequest takes the bytes from the collector: dcmjs-dimse only needs a dataset object here.
      callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
    }

    override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
      const collector = this.collectors.get(request);
      this.collectors.delete(request);
      void this.storeReceived(collector)
        .catch((err: Error) => {
          logger.error({ err: err.message }, 'C-STORE failed unexpectedly');
          return STORE_STATUS.OutOfResources;
        })
        .then((status) => {
          const response = responses.CStoreResponse.fromRequest(request);
          response.setStatus(status);
          callback(response);
        });
    }

    /**
     * Orthanc's reception metadata, after the index row they need. The instance is stored whatever
     * happens here: a failure (or a process dying in between) leaves it looking like an upload, and
     * is logged rather than answered as a failure (a retry would find it stored, and record nothing).
     */
    private async recordReception(instanceId: string): Promise<void> {
      const remoteIp = (this.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
      await metadata
        .setReceptionMetadata(instanceId, { Origin: 'DicomProtocol', RemoteAET: this.callingAeTitle, CalledAET: this.calledAeTitle, RemoteIP: remoteIp })
        .catch((err: Error) => logger.warn({ instance: instanceId, err: err.message }, 'the reception metadata of an instance received over DICOM could not be recorded'));
    }

    /** Stores one received instance; resolves to the C-STORE status to answer. */
    private async storeReceived(collector: DatasetCollector | undefined): Promise<number> {
      const from = { callingAet: this.callingAeTitle };
      if (!collector) {
        logger.warn(from, 'C-STORE refused: the request carried no dataset');
        return STORE_STATUS.CannotUnderstand;
      }
      if (collector.refused === 'context-not-accepted') {
        logger.warn(from, 'C-STORE refused: sent on a presentation context not accepted for its SOP class');
        collector.dispose();
        return STORE_STATUS.SopClassNotSupported;
      }
      if (collector.refused) {
        const reason = collector.refused === 'no-memory' ? 'the API holds HTTP_BODIES_MEMORY_LIMIT of bodies already' : 'the dataset is larger than HTTP_BODY_LIMIT';
        logger.warn({ ...from, bytes: collector.size }, `C-STORE refused (out of resources): ${reason}`);
        return STORE_STATUS.OutOfResources;
      }
      try {
        const file = collector.takeFile();
        assertAnnouncedInstance(file, collector.command);
        const { parsed, status } = await store.store(file);
        if (status === 'Success') await this.recordReception(parsed.ids.instance);
        return STORE_STATUS.Success;
      } catch (err) {
        if (err instanceof DatasetMismatchError) {
          logger.warn({ ...from, reason: err.message }, 'C-STORE refused');
          return STORE_STATUS.DataSetDoesNotMatchSopClass;
        }
        if (err instanceof OrthancError && err.isPermanent) {
          logger.warn({ ...from, reason: err.details ?? err.message }, 'C-STORE refused: not a dataset DeidFlow can read');
          return STORE_STATUS.CannotUnderstand;
        }
        logger.error({ ...from, err: (err as Error).message }, 'C-STORE failed: the instance could not be stored; the sender may send it again');
        return STORE_STATUS.OutOfResources;
      } finally {
        collector.dispose();
      }
    }
  };
}
