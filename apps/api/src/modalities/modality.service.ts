import { Inject, Injectable, Logger } from '@nestjs/common';
import { isOrthancId, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { APP_CONFIG, AppConfig, DicomModality, parseDicomModality } from '@deidflow/config';
import { DicomAssociation, DicomNetworkError, InstanceStoreService, RemoteModality } from '@deidflow/core';
import { InstanceRow, ModalityRepository, ResourceRepository } from '@deidflow/database';
import { encodedDatasetOf, isStoreSuccess, part10HeaderLength, TRANSFER_SYNTAX, VERIFICATION_SOP_CLASS } from '@deidflow/dicom';
import { RequestBodyBudget } from '../http/request-body-budget';

/** What POST /modalities/{name}/store asks (Orthanc's options that DeidFlow honours). */
export interface StoreRequest {
  resources: string[];
  permissive: boolean;
  localAet?: string;
  timeoutSeconds?: number;
  /** Orthanc 1.11.3: send to another node than the modality's, under its name. */
  calledAet?: string;
  host?: string;
  port?: number;
}

/** Orthanc's answer to a synchronous store (DicomModalityStoreJob's public content). */
export interface StoreAnswer {
  Description: string;
  FailedInstancesCount: number;
  InstancesCount: number;
  LocalAet: string;
  ParentResources: string[];
  RemoteAet: string;
}

/** Presentation context IDs are odd, 1 to 255: at most 128 per association. */
const CONTEXTS_PER_ASSOCIATION = 128;
/** Files above this are streamed from the store as they are sent, rather than read whole (as answers are). */
const STREAM_ABOVE_BYTES = 16n * 1024n * 1024n;

/**
 * Orthanc's DICOM modalities (DICOM_MODALITIES): C-ECHO, and C-STORE of stored instances. Every
 * file is sent as stored, in its own transfer syntax (one presentation context per SOP class and
 * syntax, as Orthanc proposes them); a node that accepts neither is a failure for that instance:
 * DeidFlow does not transcode (Orthanc does when TranscodeDicomProtocol is on).
 */
@Injectable()
export class ModalityService {
  private readonly logger = new Logger(ModalityService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly resources: ResourceRepository,
    private readonly store: InstanceStoreService,
    private readonly memory: RequestBodyBudget,
    private readonly registered: ModalityRepository,
  ) {}

  /** Every modality: those of DICOM_MODALITIES, then those registered over REST (PUT /modalities/{name}). */
  async all(): Promise<Record<string, DicomModality>> {
    const all: Record<string, DicomModality> = { ...this.config.DICOM_MODALITIES };
    // A name configured after it was registered: the configuration's wins, as in modality().
    for (const [name, parameters] of await this.registered.all()) if (!Object.hasOwn(all, name)) all[name] = parameters as unknown as DicomModality;
    return all;
  }

  /** Orthanc's 404 for a name that is neither configured nor registered. */
  async modality(name: string): Promise<DicomModality> {
    if (Object.hasOwn(this.config.DICOM_MODALITIES, name)) return this.config.DICOM_MODALITIES[name];
    const registered = await this.registered.find(name);
    if (!registered) throw new OrthancError(OrthancErrorCode.InexistentItem, `No modality with symbolic name: ${name}`);
    return registered as unknown as DicomModality;
  }

  /**
   * Orthanc's PUT /modalities/{name}: registers or replaces a modality, in either of Orthanc's forms,
   * for every API process and across restarts. Those of DICOM_MODALITIES stay as configured.
   */
  async register(name: string, body: unknown): Promise<void> {
    this.assertNotConfigured(name);
    let modality: DicomModality;
    try {
      modality = parseDicomModality(name, body);
    } catch (err) {
      throw OrthancError.badRequest((err as Error).message);
    }
    await this.registered.put(name, modality as unknown as Record<string, unknown>);
    this.logger.log({ modality: name, aet: modality.AET }, 'modality registered');
  }

  /** Orthanc's DELETE /modalities/{name}, for a modality registered over REST. */
  async unregister(name: string): Promise<void> {
    this.assertNotConfigured(name);
    if (!(await this.registered.delete(name))) throw new OrthancError(OrthancErrorCode.InexistentItem, `No modality with symbolic name: ${name}`);
    this.logger.log({ modality: name }, 'modality removed');
  }

  private assertNotConfigured(name: string): void {
    if (Object.hasOwn(this.config.DICOM_MODALITIES, name)) {
      throw OrthancError.badRequest(`The modality "${name}" is defined by DICOM_MODALITIES (the configuration): change it there`);
    }
  }

  /** C-ECHO; resolves once the remote answered success. */
  async echo(name: string, timeoutSeconds?: number): Promise<void> {
    const modality = await this.modality(name);
    const target = remoteOf(modality);
    const association = await this.open(target, [{ id: 1, abstractSyntaxUid: VERIFICATION_SOP_CLASS, transferSyntaxUids: [TRANSFER_SYNTAX.ImplicitVRLittleEndian] }], {
      callingAet: modality.LocalAet || this.config.DICOM_AET,
      timeoutMs: this.timeoutMs(modality, timeoutSeconds),
    });
    try {
      const status = await association.echo();
      if (status !== 0) throw new OrthancError(OrthancErrorCode.NetworkProtocol, `C-ECHO to AET "${target.aet}" answered status 0x${hex(status)}`);
      await association.release();
    } catch (err) {
      association.abort();
      throw asOrthancError(err);
    }
  }

  /**
   * C-STORE of every instance of the resources (any level), over as few associations as the
   * presentation contexts allow. Not Permissive: the first instance refused ends the store with an
   * error (as Orthanc's job fails). Permissive: the others are still sent, and the refused ones are
   * counted in FailedInstancesCount.
   */
  async send(name: string, request: StoreRequest, signal?: AbortSignal): Promise<StoreAnswer> {
    const modality = await this.modality(name);
    const target: RemoteModality = {
      aet: request.calledAet ?? modality.AET,
      host: request.host ?? modality.Host,
      port: request.port ?? modality.Port,
    };
    const localAet = request.localAet ?? (modality.LocalAet || this.config.DICOM_AET);
    const instances = await this.instancesOf(request.resources);
    const answer: StoreAnswer = {
      Description: 'REST API',
      FailedInstancesCount: 0,
      InstancesCount: instances.length,
      LocalAet: localAet,
      ParentResources: request.resources,
      RemoteAet: target.aet,
    };
    const started = Date.now();
    const options = { callingAet: localAet, timeoutMs: this.timeoutMs(modality, request.timeoutSeconds) };
    for (const group of associationGroups(instances)) {
      answer.FailedInstancesCount += await this.sendGroup(target, group, options, request.permissive, signal);
    }
    this.logger.log(
      { modality: name, remoteAet: target.aet, instances: instances.length, failed: answer.FailedInstancesCount, ms: Date.now() - started },
      'instances sent with C-STORE',
    );
    return answer;
  }

  /**
   * Sends the instances of one association group: resolves to how many failed (Permissive), or
   * throws the first failure. An association that broke (a remote closing an idle one, a timeout)
   * is opened again once for the instance in hand; a remote that cannot be reached at all fails the
   * rest of the group at once rather than instance by instance.
   */
  private async sendGroup(target: RemoteModality, group: Group, options: { callingAet: string; timeoutMs: number }, permissive: boolean, signal?: AbortSignal): Promise<number> {
    let failed = 0;
    let association: DicomAssociation | undefined;
    const connected = async (): Promise<DicomAssociation> => (association?.usable ? association : (association = await this.open(target, group.contexts, options)));
    try {
      for (const [index, instance] of group.instances.entries()) {
        if (signal?.aborted) {
          this.logger.warn({ remoteAet: target.aet, sent: index }, 'C-STORE stopped: the HTTP client went away');
          throw new OrthancError(OrthancErrorCode.CanceledJob, 'the client went away before the end of the store');
        }
        let failure: OrthancError | undefined;
        try {
          failure = await this.withDataset(instance, async (transferSyntaxUid, dataset) => {
            // Once more on a new association if the one in hand had ended (a node closing idle
            // associations), for a dataset in memory (a streamed one cannot be read again); not after
            // a timeout (a slow node would get the instance twice).
            for (let attempt = 1; ; attempt++) {
              const current = await connected();
              try {
                return await this.sendOne(current, target, instance, transferSyntaxUid, dataset);
              } catch (err) {
                current.abort();
                const retry = err instanceof DicomNetworkError && err.kind === 'closed' && attempt === 1 && dataset instanceof Uint8Array;
                if (!retry) throw err;
              }
            }
          });
        } catch (err) {
          const error = asOrthancError(err);
          if (!permissive) throw error;
          if (!association?.usable && group.instances.length > index + 1 && (await this.unreachable(connected))) {
            this.logger.warn({ remoteAet: target.aet, reason: error.details, instances: group.instances.length - index }, 'C-STORE: the modality cannot be reached; the rest of the group counts as failed (Permissive)');
            return failed + group.instances.length - index;
          }
          failure = error;
        }
        if (!failure) continue;
        if (!permissive) throw failure;
        failed++;
        this.logger.warn({ instance: instance.id, remoteAet: target.aet, reason: failure.details }, 'C-STORE of an instance failed (Permissive: going on)');
      }
      return failed;
    } finally {
      // Released when it still can be (a refusal leaves it healthy, as Orthanc), aborted otherwise.
      const last = association as DicomAssociation | undefined;
      if (last?.usable) await last.release();
      else last?.abort();
    }
  }

  /** Whether a new association cannot be opened (tried once). */
  private async unreachable(connect: () => Promise<DicomAssociation>): Promise<boolean> {
    return connect().then(
      () => false,
      () => true,
    );
  }

  /**
   * Hands the instance's encoded dataset to `send`: a file up to STREAM_ABOVE_BYTES read whole,
   * within the memory that request bodies share (HTTP_BODIES_MEMORY_LIMIT, as uploads), a larger
   * one (multi-frame, whole-slide) streamed from the store. A file that cannot be read, or is not a
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
      return await send(header.transferSyntaxUid, dataset());
    } finally {
      await chunks?.return?.(); // however the send ended, no file or connection to the store stays open
    }
  }

  /** Sends one instance; resolves to the refusal, if the remote refused it (thrown: the association broke). */
  private async sendOne(association: DicomAssociation, target: RemoteModality, instance: InstanceRow, transferSyntaxUid: string, dataset: Uint8Array | AsyncIterable<Uint8Array>): Promise<OrthancError | undefined> {
    const context = association.contextFor(instance.sopClassUid, transferSyntaxUid);
    if (context === undefined) {
      return new OrthancError(
        OrthancErrorCode.NoPresentationContext,
        `AET "${target.aet}" accepts instance ${instance.id} neither for its SOP class ${instance.sopClassUid} nor in its transfer syntax ${transferSyntaxUid} (DeidFlow does not transcode)`,
      );
    }
    const response = await association.store(context, instance.sopClassUid, instance.sopInstanceUid, dataset);
    if (isStoreSuccess(response.status)) return undefined;
    const comment = response.errorComment ? ` (${response.errorComment})` : '';
    return new OrthancError(OrthancErrorCode.NetworkProtocol, `C-STORE of instance ${instance.id} to AET "${target.aet}" has failed with DIMSE status 0x${hex(response.status)}${comment}`);
  }

  private async open(target: RemoteModality, contexts: Group['contexts'], options: { callingAet: string; timeoutMs: number }): Promise<DicomAssociation> {
    try {
      return await DicomAssociation.open(target, contexts, options);
    } catch (err) {
      throw asOrthancError(err);
    }
  }

  /** Every instance below the resources, once each, in the order the resources were given. */
  private async instancesOf(ids: readonly string[]): Promise<InstanceRow[]> {
    for (const id of ids) if (!isOrthancId(id)) throw OrthancError.badRequest(`Not an Orthanc identifier: ${id}`);
    const levels = await this.resources.findLevels(ids);
    const instances = new Map<string, InstanceRow>();
    for (const id of ids) {
      const level = levels.get(id);
      if (!level) throw OrthancError.unknownResource(`Unknown resource: ${id}`);
      for await (const batch of this.resources.iterateInstances(level, id)) {
        for (const row of batch) if (!instances.has(row.id)) instances.set(row.id, { ...row, mainDicomTags: {} });
      }
    }
    return [...instances.values()];
  }

  private timeoutMs(modality: DicomModality, requestSeconds?: number): number {
    const seconds = requestSeconds ?? modality.Timeout;
    return seconds > 0 ? seconds * 1000 : this.config.DICOM_SCU_TIMEOUT_MS;
  }
}

/** Sends an instance's encoded dataset; resolves to its refusal, if the remote refused it. */
type SendDataset = (transferSyntaxUid: string, dataset: Uint8Array | AsyncIterable<Uint8Array>) => Promise<OrthancError | undefined>;

interface Group {
  contexts: { id: number; abstractSyntaxUid: string; transferSyntaxUids: string[] }[];
  instances: InstanceRow[];
}

/**
 * The instances split so that each association proposes at most 128 contexts: one per SOP class and
 * transfer syntax (the syntax the index recorded for the file), as Orthanc proposes the file's own.
 */
export function associationGroups(instances: readonly InstanceRow[]): Group[] {
  const groups: Group[] = [];
  const contextOf = new Map<string, Group>();
  for (const instance of instances) {
    const key = `${instance.sopClassUid} ${instance.transferSyntaxUid}`;
    let group = contextOf.get(key);
    if (!group) {
      group = groups.at(-1);
      if (!group || group.contexts.length === CONTEXTS_PER_ASSOCIATION) {
        group = { contexts: [], instances: [] };
        groups.push(group);
      }
      group.contexts.push({ id: 2 * group.contexts.length + 1, abstractSyntaxUid: instance.sopClassUid, transferSyntaxUids: [instance.transferSyntaxUid] });
      contextOf.set(key, group);
    }
    group.instances.push(instance);
  }
  return groups;
}

/** A file that cannot be read or framed, or a store that failed reading it: that instance's failure, named. */
function failureOf(instance: InstanceRow, err: unknown): OrthancError {
  if (err instanceof OrthancError) return new OrthancError(err.code, `instance ${instance.id}: ${err.details ?? err.message}`);
  return new OrthancError(OrthancErrorCode.InternalError, `instance ${instance.id}: reading its file failed: ${(err as Error).message}`);
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

function hex(status: number): string {
  return status.toString(16).toUpperCase().padStart(4, '0');
}

/** The remote's failures as Orthanc's NetworkProtocol error; OrthancErrors as they are. */
function asOrthancError(err: unknown): OrthancError {
  if (err instanceof OrthancError) return err;
  if (err instanceof DicomNetworkError) return new OrthancError(OrthancErrorCode.NetworkProtocol, err.message);
  throw err;
}

export function remoteOf(modality: DicomModality): RemoteModality {
  return { aet: modality.AET, host: modality.Host, port: modality.Port };
}
