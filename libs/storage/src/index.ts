export * from './object-storage';
export * from './object-key';
export * from './fs-storage';
export * from './s3-storage';
export * from './create-storage';
export * from './storage.module';
