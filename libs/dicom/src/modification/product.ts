import { PRODUCT_VERSION } from '@deidflow/common';

// The product's identity (name, version) lives in @deidflow/common; what the engine writes into the
// files it produces derives from it: DeidentificationMethod (0012,0063) and the File Meta
// Information's implementation UID and version name (0002,0012-0013).
export { PRODUCT_NAME, PRODUCT_VERSION } from '@deidflow/common';

/** A UUID-derived UID (ITU-T X.667, root 2.25) fixed for the product: no registered root is needed. */
export const IMPLEMENTATION_CLASS_UID = '2.25.197025738279842100782884953129761636197';

/** At most 16 characters (VR SH). */
export const IMPLEMENTATION_VERSION_NAME = `DEIDFLOW_${PRODUCT_VERSION.replace(/\./g, '')}`;
