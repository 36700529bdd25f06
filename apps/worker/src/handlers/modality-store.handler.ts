import { Injectable, Logger } from '@nestjs/common';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { DicomAssociation, DicomNetworkError, InstanceStoreService, STREAM_ABOVE_BYTES } from '@deidflow/core';
import { InstanceRow, JobCounters, JobRepository } from '@deidflow/database';
import { encodedDatasetOf, isStoreSuccess, part10HeaderLength, statusText } from '@deidflow/dicom';
import type { ModalityStoreRequest } from '@deidflow/jobs';
import type { ProcessInstancePayload } from '@deidflow/queue';
import { AssociationPool } from './association-pool';
import { InstanceMemoryBudget } from './instance-memory-budget';

/** Sends an instance's encoded dataset; resolves to its refusal, if the remote refused it. */
type SendDataset = (transferSyntaxUid: string, dataset: Uint8Array | AsyncIterable<Uint8Array>) => Promise<OrthancError | undefined>;

/**
 * One instance of a DicomModalityStore job: a C-STORE of its file, as stored, byte for byte, in its
 * own transfer syntax (DeidFlow does not transcode: a node that takes neither its SOP class nor its
 * syntax refuses it, NoPresentationContext). The associations are the worker's (AssociationPool),
 * shared by the job's instances in hand. A refusal, an association refused or a file that cannot be
 * read fail the instance at once; a node that goes silent or drops the connection is tried again
 * (the task's retries, with backoff), so that a PACS restarting loses nothing.
 */
@Injectable()
export class ModalityStoreHandler {
  private readonly logger = new Logger(ModalityStoreHandler.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly store: InstanceStoreService,
    private readonly pool: AssociationPool,
    private readonly memory: InstanceMemoryBudget,
  ) {}

  /** Resolves to the job's counters once the instance is recorded (null: it was already); throws to be tried again. */
  async send({ jobId, sourceInstanceId, generation }: ProcessInstancePayload, request: ModalityStoreRequest): Promise<JobCounters | null> {
    const instance = await this.store.findInstanceOrThrow(sourceInstanceId);
    let failure: OrthancError | undefined;
    try {
      failure = await this.withDataset(instance, (transferSyntaxUid, dataset) =>
        this.pool.use(
          // Per node and context, not per job: consecutive jobs to the same node share it (a node such
          // as DCMTK's storescp serves one association at a time).
          `${request.localAet} ${request.remote.aet}@${request.remote.host}:${request.remote.port} ${instance.sopClassUid} ${transferSyntaxUid}`,
          () => this.open(request, instance.sopClassUid, transferSyntaxUid),
          (association) => this.sendOne(association, request, instance, transferSyntaxUid, dataset),
        ),
      );
    } catch (err) {
      if (!(err instanceof DicomNetworkError)) throw err;
      // Refused (connection or association): failed now, as Orthanc's store; the job can be resubmitted.
      if (err.kind !== 'refused') throw new OrthancError(OrthancErrorCode.NetworkProtocol, err.message); // tried again
      failure = new OrthancError(OrthancErrorCode.NetworkProtocol, err.message);
    }
    if (!failure) return this.jobs.completeInstance(jobId, sourceInstanceId, generation, { outputInstanceId: null });
    this.logger.warn({ jobId, instance: sourceInstanceId, remoteAet: request.remote.aet, reason: failure.details }, 'C-STORE of an instance failed');
    return this.jobs.completeInstance(jobId, sourceInstanceId, generation, { error: failure.details ?? failure.message, errorCode: failure.code });
  }

  /** An association proposing the one context the instance needs. */
  private open(request: ModalityStoreRequest, sopClassUid: string, transferSyntaxUid: string): Promise<DicomAssociation> {
    return DicomAssociation.open(request.remote, [{ id: 1, abstractSyntaxUid: sopClassUid, transferSyntaxUids: [transferSyntaxUid] }], {
      callingAet: request.localAet,
      timeoutMs: request.timeoutMs,
    });
  }

  /** Sends one instance; resolves to the refusal, if the remote refused it (thrown: the association broke). */
  private async sendOne(
    association: DicomAssociation,
    request: ModalityStoreRequest,
    instance: InstanceRow,
    transferSyntaxUid: string,
    dataset: Uint8Array | AsyncIterable<Uint8Array>,
  ): Promise<OrthancError | undefined> {
    const context = association.contextFor(instance.sopClassUid, transferSyntaxUid);
    if (context === undefined) {
      // Useless to keep: released at once (a node that serves one association at a time waits for it).
      await association.release();
      return new OrthancError(
        OrthancErrorCode.NoPresentationContext,
        `AET "${request.remote.aet}" accepts instance ${instance.id} neither for its SOP class ${instance.sopClassUid} nor in its transfer syntax ${transferSyntaxUid} (DeidFlow does not transcode)`,
      );
    }
    try {
      const response = await association.store(context, instance.sopClassUid, instance.sopInstanceUid, dataset);
      if (isStoreSuccess(response.status)) return undefined;
      const comment = response.errorComment ? ` (${response.errorComment})` : '';
      return new OrthancError(OrthancErrorCode.NetworkProtocol, `C-STORE of instance ${instance.id} to AET "${request.remote.aet}" has failed with DIMSE status ${statusText(response.status)}${comment}`);
    } catch (err) {
      association.abort(); // in an unknown state: the next instance opens another
      throw err;
    }
  }

  /**
   * Hands the instance's encoded dataset to `send`: a file up to STREAM_ABOVE_BYTES read whole,
   * within the worker's memory for instances (WORKER_INSTANCES_MEMORY_LIMIT), a larger one
   * (multi-frame, whole-slide) streamed from the store. A file that cannot be read, or is not a
   * stored Part 10 file, is that instance's failure, not the association's.
   */
  private async withDataset(instance: InstanceRow, send: SendDataset): Promise<OrthancError | undefined> {
    return instance.fileSize > STREAM_ABOVE_BYTES ? this.withStreamedDataset(instance, send) : this.withDatasetInMemory(instance, send);
  }

  private async withDatasetInMemory(instance: InstanceRow, send: SendDataset): Promise<OrthancError | undefined> {
    const reserved = await this.memory.reserve(Number(instance.fileSize));
    try {
      let encoded: { transferSyntaxUid: string; dataset: Uint8Array };
      try {
        encoded = encodedDatasetOf(await this.store.readFile(instance));
      } catch (err) {
        return failureOf(instance, err);
      }
      return await send(encoded.transferSyntaxUid, encoded.dataset);
    } finally {
      this.memory.release(reserved);
    }
  }

  /**
   * The File Meta Information is read first (it names the transfer syntax and where the dataset
   * starts), then the dataset follows as it is read, checked to be as long as the index says (a file
   * cut short is not sent as if whole: the association is aborted before its last fragment). A meta
   * without its group length cannot be told from its start: such a file is read whole.
   */
  private async withStreamedDataset(instance: InstanceRow, send: SendDataset): Promise<OrthancError | undefined> {
    let chunks: AsyncIterator<Buffer> | undefined;
    try {
      let header: { transferSyntaxUid: string; first: Uint8Array; headerLength: number };
      try {
        chunks = (await this.store.readStream(instance))[Symbol.asyncIterator]();
        const found = await readHeader(chunks);
        if (!found) return await this.withDatasetInMemory(instance, send);
        header = found;
      } catch (err) {
        return failureOf(instance, err);
      }
      const expected = Number(instance.fileSize) - header.headerLength;
      const source = chunks;
      async function* dataset(): AsyncGenerator<Uint8Array> {
        let sent = header.first.length;
        yield header.first;
        try {
          for (let next = await source.next(); !next.done; next = await source.next()) {
            sent += next.value.length;
            yield next.value;
          }
        } catch (err) {
          throw failureOf(instance, err);
        }
        if (sent !== expected) {
          throw failureOf(instance, new OrthancError(OrthancErrorCode.CorruptedFile, `the stored file holds ${sent} bytes of dataset where the index expects ${expected}`));
        }
      }
      try {
        return await send(header.transferSyntaxUid, dataset());
      } catch (err) {
        // The file's own fault, found while it was sent (the association was aborted): that instance's failure.
        if (err instanceof OrthancError && (err.isPermanent || err.code === OrthancErrorCode.CorruptedFile)) return err;
        throw err;
      }
    } finally {
      await chunks?.return?.(); // however the send ended, no file or connection to the store stays open
    }
  }
}

/**
 * A file that cannot be read or framed: that instance's failure, named. A store that failed for the
 * moment (an S3 error, a reset) is thrown on: the task is tried again, as a modification's is.
 */
function failureOf(instance: InstanceRow, err: unknown): OrthancError {
  const permanent = err instanceof OrthancError && (err.isPermanent || err.code === OrthancErrorCode.CorruptedFile);
  if (!permanent) throw err;
  return new OrthancError(err.code, `instance ${instance.id}: ${err.details ?? err.message}`);
}

/**
 * Reads a streamed file's start until its File Meta Information is whole: its transfer syntax, the
 * dataset bytes read with it, and the header's length; undefined when its start does not tell the
 * meta's length (no group length first).
 */
async function readHeader(chunks: AsyncIterator<Buffer>): Promise<{ transferSyntaxUid: string; first: Uint8Array; headerLength: number } | undefined> {
  const head: Buffer[] = [];
  let length = 0;
  let headerLength: number | undefined;
  while (headerLength === undefined || length < headerLength) {
    const next = await chunks.next();
    if (next.done) throw OrthancError.badFileFormat('the file ends within its File Meta Information');
    head.push(next.value);
    length += next.value.length;
    if (length >= 144 && headerLength === undefined) {
      headerLength = part10HeaderLength(Buffer.concat(head, length));
      if (headerLength === undefined) return undefined;
    }
  }
  const { transferSyntaxUid, dataset } = encodedDatasetOf(Buffer.concat(head, length));
  return { transferSyntaxUid, first: dataset, headerLength };
}

