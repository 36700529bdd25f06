export * from './dcmjs-read';
export * from './main-dicom-tags';
export * from './parse-instance';
