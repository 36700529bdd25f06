import { Inject, Injectable, Logger } from '@nestjs/common';
import { isOrthancId, JsonAnswer, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { APP_CONFIG, AppConfig, DicomModality, parseDicomModality } from '@deidflow/config';
import { DicomAssociation, DicomNetworkError } from '@deidflow/core';
import { ModalityRepository } from '@deidflow/database';
import { statusText, TRANSFER_SYNTAX, VERIFICATION_SOP_CLASS } from '@deidflow/dicom';
import { JobControlService, JobSubmissionService } from '@deidflow/jobs';

/** What POST /modalities/{name}/store asks (Orthanc's options that DeidFlow honours). */
export interface StoreRequest {
  resources: string[];
  permissive: boolean;
  synchronous: boolean;
  priority: number;
  localAet?: string;
  timeoutSeconds?: number;
  /** Orthanc 1.11.3: send to another node than the modality's, under its name. */
  calledAet?: string;
  host?: string;
  port?: number;
}

/**
 * Orthanc's DICOM modalities: those of DICOM_MODALITIES and those registered over REST
 * (dicom_modalities), C-ECHO from the API, and C-STORE of stored resources as DicomModalityStore
 * jobs that the workers carry out (ModalityStoreHandler): every file sent as stored, in its own
 * transfer syntax (DeidFlow does not transcode; Orthanc does when TranscodeDicomProtocol is on).
 */
@Injectable()
export class ModalityService {
  private readonly logger = new Logger(ModalityService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registered: ModalityRepository,
    private readonly submissions: JobSubmissionService,
    private readonly control: JobControlService,
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
    const target = { aet: modality.AET, host: modality.Host, port: modality.Port };
    const association = await this.open(target, [{ id: 1, abstractSyntaxUid: VERIFICATION_SOP_CLASS, transferSyntaxUids: [TRANSFER_SYNTAX.ImplicitVRLittleEndian] }], {
      callingAet: modality.LocalAet || this.config.DICOM_AET,
      timeoutMs: this.timeoutMs(modality, timeoutSeconds),
    });
    try {
      const status = await association.echo();
      if (status !== 0) throw new OrthancError(OrthancErrorCode.NetworkProtocol, `C-ECHO to AET "${target.aet}" answered status ${statusText(status)}`);
      await association.release();
    } catch (err) {
      association.abort();
      throw asOrthancError(err);
    }
  }

  /**
   * C-STORE of every instance of the resources (any level), as Orthanc's DicomModalityStore job:
   * one task per instance for the workers (ModalityStoreHandler), with the job's progress, cancel,
   * pause and resubmit. Synchronous by default, as Orthanc: the answer is the job's Content once it
   * ended, or its failure (the first failed instance's error); asynchronous: {"ID", "Path"}.
   */
  async send(name: string, request: StoreRequest): Promise<JsonAnswer | { ID: string; Path: string }> {
    const modality = await this.modality(name);
    for (const id of request.resources) if (!isOrthancId(id)) throw OrthancError.badRequest(`Not an Orthanc identifier: ${id}`);
    const jobId = await this.submissions.submitStore({
      store: {
        modality: name,
        remote: { aet: request.calledAet ?? modality.AET, host: request.host ?? modality.Host, port: request.port ?? modality.Port },
        localAet: request.localAet ?? (modality.LocalAet || this.config.DICOM_AET),
        timeoutMs: this.timeoutMs(modality, request.timeoutSeconds),
      },
      resources: request.resources,
      permissive: request.permissive,
      synchronous: request.synchronous,
      priority: request.priority,
    });
    if (!request.synchronous) return { ID: jobId, Path: `/jobs/${jobId}` };
    return this.control.contentWhenFinished(jobId);
  }

  private async open(target: { aet: string; host: string; port: number }, contexts: Parameters<typeof DicomAssociation.open>[1], options: { callingAet: string; timeoutMs: number }): Promise<DicomAssociation> {
    try {
      return await DicomAssociation.open(target, contexts, options);
    } catch (err) {
      throw asOrthancError(err);
    }
  }

  private timeoutMs(modality: DicomModality, requestSeconds?: number): number {
    const seconds = requestSeconds ?? modality.Timeout;
    return seconds > 0 ? seconds * 1000 : this.config.DICOM_SCU_TIMEOUT_MS;
  }
}



/** The remote's failures as Orthanc's NetworkProtocol error; OrthancErrors as they are. */
function asOrthancError(err: unknown): OrthancError {
  if (err instanceof OrthancError) return err;
  if (err instanceof DicomNetworkError) return new OrthancError(OrthancErrorCode.NetworkProtocol, err.message);
  throw err;
}
