import type { ResourceLevel } from '@deidflow/common';

/**
 * The tags of the patient, study and series modules (Orthanc's DicomTag::AddTagsForModule, after
 * DICOM PS 3.3 2011 tables C.7-1, C.7-3 and C.7-5), as the keys of the full /tags JSON. With
 * "Parent", /tools/create-dicom copies them from an instance of the parent, for its level and above.
 * Pure DICOM data: it belongs in libs/dicom, next to createDicom.
 */
const MODULE_TAGS: Record<Exclude<ResourceLevel, 'Instance'>, readonly string[]> = {
  Patient: [
    '0010,0010', '0010,0020', '0010,0030', '0010,0040', '0008,1120', '0010,0032', '0010,1000', '0010,1002',
    '0010,1001', '0010,2160', '0010,4000', '0010,2201', '0010,2202', '0010,2292', '0010,2293', '0010,2294',
    '0010,2297', '0010,2298', '0010,2299', '0012,0062', '0012,0063', '0012,0064', '0010,0021', '0010,0024',
  ],
  Study: [
    '0020,000d', '0008,0020', '0008,0030', '0008,0090', '0008,0096', '0020,0010', '0008,0050', '0008,0051',
    '0008,1030', '0008,1048', '0008,1049', '0008,1060', '0008,1062', '0032,1034', '0008,1110', '0008,1032',
    '0040,1012',
  ],
  Series: [
    '0008,0060', '0020,000e', '0020,0011', '0020,0060', '0008,0021', '0008,0031', '0008,1050', '0008,1052',
    '0018,1030', '0008,103e', '0008,103f', '0008,1070', '0008,1072', '0008,1111', '0008,1250', '0018,0015',
    '0018,5100', '0028,0108', '0029,0109', '0040,0275', '0010,2210', '0040,0253', '0040,0244', '0040,0245',
    '0040,0254', '0040,0260', '0040,0280',
  ],
};

const LEVELS_UP: Record<Exclude<ResourceLevel, 'Instance'>, readonly (keyof typeof MODULE_TAGS)[]> = {
  Patient: ['Patient'],
  Study: ['Study', 'Patient'],
  Series: ['Series', 'Study', 'Patient'],
};

interface FullJsonNode {
  Type: string;
  Value: unknown;
}

/**
 * The module tags of `parentLevel` and the levels above it, read from the full /tags JSON of one
 * instance of the parent: strings as they are, binary ("Null") values as empty strings; sequences
 * and values too long for the JSON are left out, as in Orthanc's CreateDicomV2.
 */
export function parentModuleTags(parentLevel: Exclude<ResourceLevel, 'Instance'>, fullJson: Record<string, unknown>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const level of LEVELS_UP[parentLevel]) {
    for (const key of MODULE_TAGS[level]) {
      const node = fullJson[key] as FullJsonNode | undefined;
      if (node?.Type === 'String' && typeof node.Value === 'string') tags[key] = node.Value;
      else if (node?.Type === 'Null') tags[key] = '';
    }
  }
  return tags;
}
