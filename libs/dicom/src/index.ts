// Public API of the DICOM engine. Pure: no Nest, no I/O.
export * from './orthanc-id';
export * from './parse';
export * from './anonymization/profiles';
export * from './modification';
export * from './tags';
export * from './synthetic';
export * from './find';
export * from './archive';
export * from './network';
