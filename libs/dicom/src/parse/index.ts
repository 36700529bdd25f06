export * from './main-dicom-tags';
export * from './normalize-part10';
export * from './parse-instance';
export * from './series-status';
