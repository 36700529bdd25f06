export * from './random';
export * from './synthetic-study';
