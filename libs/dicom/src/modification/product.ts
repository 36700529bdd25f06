/**
 * The product's identity as written into every file it produces: DeidentificationMethod
 * (0012,0063) and the File Meta Information's implementation UID and version name (0002,0012-0013).
 */
export const PRODUCT_NAME = 'DeidFlow';

/** Kept equal to package.json's version by a unit test (libs/dicom does no I/O to read it). */
export const PRODUCT_VERSION = '0.1.0';

/** A UUID-derived UID (ITU-T X.667, root 2.25) fixed for the product: no registered root is needed. */
export const IMPLEMENTATION_CLASS_UID = '2.25.197025738279842100782884953129761636197';

/** At most 16 characters (VR SH). */
export const IMPLEMENTATION_VERSION_NAME = `DEIDFLOW_${PRODUCT_VERSION.replace(/\./g, '')}`;
