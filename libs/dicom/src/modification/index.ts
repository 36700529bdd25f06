// Anonymization and modification of DICOM instances, Orthanc-compatible (pure: no Nest, no I/O).
export { DicomModification, type DerivedInstance, type ModificationKeys } from './dicom-modification';
export { needsGeneratedPatientName, parseModificationRequest, type RequestContext } from './parse-request';
export { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './product';
export type {
  JsonValue,
  Level,
  ModificationRequest,
  Operation,
  PathStep,
  Replacement,
  RequestTarget,
  Scope,
  TagPath,
} from './request-types';
export { mapPatientId, mapUid } from './uid-mapping';
