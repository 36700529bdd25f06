export * from './orthanc-error';
export * from './orthanc-time';
export * from './resource-level';
export * from './product';
export * from './lru-cache';
export * from './buffer-pool';
export * from './settles-within';
export * from './json-text';
