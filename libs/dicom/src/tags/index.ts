// The read side of the DICOM engine (Orthanc's /tags and /content), and /tools/create-dicom.
export { datasetToOrthancJson } from './dataset-to-json';
export type { FullDataset, FullLeaf, FullSequence, TagsFormat } from './dataset-to-json';
export { readContent } from './read-content';
export type { ContentResult } from './read-content';
export { createDicom } from './create-dicom';
export type { CreateDicomContext } from './create-dicom';
