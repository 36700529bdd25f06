/** Orthanc's job type of POST /modalities/{name}/store. */
export const MODALITY_STORE_JOB = 'DicomModalityStore';

/**
 * What a store job's workers need, stored once in its row (request): where to send, as whom, and
 * how long to wait. Each instance of the job is one C-STORE (DicomAssociation), by any worker.
 */
export interface ModalityStoreRequest {
  /** The modality's name, for the logs. */
  modality: string;
  remote: { aet: string; host: string; port: number };
  localAet: string;
  timeoutMs: number;
}

/** What the API asks for: the request, and the options of the submission itself. */
export interface ModalityStoreSubmission {
  store: ModalityStoreRequest;
  /** Orthanc IDs of any level, validated by the submission. */
  resources: string[];
  permissive: boolean;
  synchronous: boolean;
  priority: number;
}
