export * from './archive-layout';
