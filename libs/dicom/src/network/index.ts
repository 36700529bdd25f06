export * from './negotiation';
export * from './pdu';
export * from './received-dataset';
export { encodedDatasetOf, part10HeaderLength } from '../codec/part10';
export { TRANSFER_SYNTAX } from '../codec/transfer-syntax';
