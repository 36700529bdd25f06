// Hostile inputs for the API's bad-input e2e tests (not part of @deidflow/dicom; the unit specs import the modules).
export { mutate, type Mutant } from './mutator';
export { deeplyNestedSequence, elementLengthOf, randomInput, truncationOffsets, type LengthPlace } from './pathological';
export { locateSites, type Site } from './structure';
