// Hostile inputs for the engine's tests and the API's bad-input e2e tests (not part of @deidflow/dicom).
export { classify, ENTRY_POINTS, exerciseEngine, type EntryPointResult, type Verdict } from './engine-harness';
export { mutate, type Mutant } from './mutator';
export { deeplyNestedSequence, elementLengthOf, part10File, randomInput, truncationOffsets, type LengthPlace } from './pathological';
export { locateSites, type Site } from './structure';
