import { readFileSync } from 'fs';
import { join } from 'path';
import { OrthancErrorCode } from '@deidflow/common';
import { datasetToOrthancJson } from './dataset-to-json';
import { ContentResult, readContent } from './read-content';
import { orthancErrorOf } from '../testing/orthanc-error-of';

const SAMPLES = join(__dirname, '../../../../../shared/dicom-samples/orthanc-tests');
const dummyCt = readFileSync(join(SAMPLES, 'DummyCT.dcm'));

function text(result: ContentResult): string {
  if (result.kind !== 'value') throw new Error(`expected a value, got ${JSON.stringify(result)}`);
  return result.bytes.toString('latin1');
}

describe('readContent (GET /instances/{id}/content/...)', () => {
  it('lists the tags of the dataset as gggg-eeee', () => {
    const expected = Object.keys(datasetToOrthancJson(dummyCt, 'short')).map((key) => key.replace(',', '-'));
    expect(readContent(dummyCt, [])).toEqual({ kind: 'list', items: expected });
  });

  it('answers raw values, DICOM padding kept, by keyword, gggg-eeee or gggg,eeee', () => {
    expect(text(readContent(dummyCt, ['0010-0010']))).toBe('KNIX');
    expect(text(readContent(dummyCt, ['PatientName']))).toBe('KNIX');
    expect(text(readContent(dummyCt, ['0008,103e']))).toBe('AX.  FSE PD ');
    expect(text(readContent(dummyCt, ['0008-103E']))).toBe('AX.  FSE PD ');
    expect(readContent(dummyCt, ['Rows'])).toEqual({ kind: 'value', bytes: Buffer.from([0x00, 0x02]) });
  });

  it('navigates sequences: item indexes, the tags of an item, a nested value', () => {
    expect(readContent(dummyCt, ['ReferencedImageSequence'])).toEqual({ kind: 'list', items: ['0', '1'] });
    expect(readContent(dummyCt, ['0008-1140', '1'])).toEqual({ kind: 'list', items: ['0008-1150', '0008-1155'] });
    expect(text(readContent(dummyCt, ['ReferencedImageSequence', '1', 'ReferencedSOPInstanceUID']))).toBe(
      '1.2.840.113619.2.176.2025.1499492.7040.1171286241.726\0',
    );
  });

  it('answers 404 (InexistentItem) for what does not exist', () => {
    for (const path of [['StationAETitle'], ['ReferencedImageSequence', '2'], ['ReferencedImageSequence', 'x'], ['PatientName', '0'], ['7fe0-0010']]) {
      const error = orthancErrorOf(() => readContent(dummyCt, path));
      expect(error.code).toBe(OrthancErrorCode.InexistentItem);
      expect(error.httpStatus).toBe(404);
    }
  });

  it('refuses an unknown tag name with UnknownDicomTag', () => {
    expect(orthancErrorOf(() => readContent(dummyCt, ['NoSuchTag'])).code).toBe(OrthancErrorCode.UnknownDicomTag);
  });

  it('lists and answers the blocks of encapsulated pixel data (the offset table is block 0)', () => {
    const jpeg = readFileSync(join(SAMPLES, 'LenaTwiceWithFragments.dcm'));
    const blocks = readContent(jpeg, ['7fe0-0010']);
    expect(blocks.kind === 'list' && blocks.items.length).toBe(137);
    const fragment = readContent(jpeg, ['PixelData', '1']);
    expect(fragment.kind === 'value' && fragment.bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  it('answers native pixel data as one block', () => {
    const ct = readFileSync(join(SAMPLES, 'SignedCT.dcm'));
    expect(readContent(ct, ['7fe0-0010'])).toEqual({ kind: 'list', items: ['0'] });
    const pixels = readContent(ct, ['7fe0-0010', '0']);
    expect(pixels.kind === 'value' && pixels.bytes.length).toBe(512 * 512 * 2);
    expect(orthancErrorOf(() => readContent(ct, ['7fe0-0010', '1'])).code).toBe(OrthancErrorCode.InexistentItem);
  });
});
