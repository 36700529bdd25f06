export * from './find-request';
