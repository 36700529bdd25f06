export * from './negotiation';
export * from './received-dataset';
