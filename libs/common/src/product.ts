/** Product identity, shown by GET /system, in DeidentificationMethod and in the File Meta Information. */
export const PRODUCT_NAME = 'DeidFlow';
/** Kept equal to package.json's version (product.spec.ts checks it). */
export const PRODUCT_VERSION = '0.1.0';
/**
 * The Orthanc REST API version DeidFlow answers like. Clients gate features on GET /system's
 * Version (e.g. bulk-modify needs >= 1.9.4, paths in Replace >= 1.9.4), so report a modern one.
 */
export const ORTHANC_COMPATIBLE_VERSION = '1.12.10';
export const ORTHANC_COMPATIBLE_API_VERSION = 28;
