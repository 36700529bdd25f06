import { OrthancError } from '@deidflow/common';
import { DatasetReader, UNDEFINED_LENGTH } from './dataset-reader';
import { EXPLICIT_BIG, EXPLICIT_LITTLE, IMPLICIT_LITTLE } from './transfer-syntax';

const hex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

describe('DatasetReader', () => {
  it('reads explicit VR little endian short and long headers', () => {
    const bytes = hex('08006000 4353 0200 4354   e07f1000 4f42 0000 02000000 0102');
    const [modality, pixels] = new DatasetReader(bytes, EXPLICIT_LITTLE).readElements(0, bytes.length, 0);
    expect(modality).toMatchObject({ tag: 0x00080060, vr: 'CS', valueStart: 8, valueLength: 2, end: 10 });
    expect(pixels).toMatchObject({ tag: 0x7fe00010, vr: 'OB', valueStart: 22, valueLength: 2, end: 24 });
  });

  it('reads implicit VR with the dictionary VRs, and defined-length sequences', () => {
    const bytes = hex('08004011 10000000  feff00e0 08000000 08005511 00000000  10001000 02000000 4142');
    const reader = new DatasetReader(bytes, IMPLICIT_LITTLE);
    const [sequence, name] = reader.readElements(0, bytes.length, 0);
    expect(sequence).toMatchObject({ tag: 0x00081140, vr: 'SQ', isSequence: true, end: 24 });
    expect(name).toMatchObject({ tag: 0x00100010, vr: 'PN' });
    const [item] = reader.readItems(sequence, 1);
    expect(item).toMatchObject({ contentStart: 16, contentEnd: 24, undefinedLength: false });
    expect(reader.readElements(item.contentStart, item.contentEnd, 1)[0].tag).toBe(0x00081155);
  });

  it('reads big endian', () => {
    const bytes = hex('0028 0010 5553 0002 0100');
    expect(new DatasetReader(bytes, EXPLICIT_BIG).readElements(0, bytes.length, 0)[0]).toMatchObject({ tag: 0x00280010, vr: 'US', valueLength: 2 });
  });

  it('finds the end of undefined-length sequences, items and encapsulated pixel data', () => {
    const bytes = hex(
      '08004011 5351 0000 ffffffff  feff00e0 ffffffff  08005511 5549 0200 3100  feff0de0 00000000  feffdde0 00000000' +
        'e07f1000 4f42 0000 ffffffff  feff00e0 00000000  feff00e0 02000000 ffd9  feffdde0 00000000',
    );
    const reader = new DatasetReader(bytes, EXPLICIT_LITTLE);
    const [sequence, pixels] = reader.readElements(0, bytes.length, 0);
    expect(sequence).toMatchObject({ valueLength: UNDEFINED_LENGTH, isSequence: true, end: 46 });
    expect(pixels).toMatchObject({ tag: 0x7fe00010, isSequence: false, end: bytes.length });
    const [item] = reader.readItems(sequence, 1);
    expect(item.undefinedLength).toBe(true);
    expect(reader.readUntilItemDelimiter(item.contentStart, item.end, 1).elements).toHaveLength(1);
  });

  it.each([
    ['a truncated header', '0800', /truncated data: an element header at offset 0 needs 8 bytes, only 2 remain/],
    ['a value beyond the end', '08006000 4353 0400 4354', /truncated data: the value of \(0008,0060\) at offset 8 needs 4 bytes, only 2 remain/],
    ['an invalid VR', '08006000 0102 0200 4354', /invalid VR bytes 0x0102 for element \(0008,0060\) at offset 0/],
    ['a stray delimiter', 'feffdde0 00000000', /unexpected \(fffe,e0dd\) delimiter at offset 0/],
    ['a sequence without delimiter', '08004011 5351 0000 ffffffff feff00e0 ffffffff', /truncated data: an item delimiter/],
    ['a non-item in a sequence', '08004011 5351 0000 ffffffff 08006000 4353 0000', /expected an item in sequence \(0008,1140\)/],
  ])('refuses %s with BadFileFormat', (_name, text, details) => {
    const bytes = hex(text);
    let error: unknown;
    try {
      new DatasetReader(bytes, EXPLICIT_LITTLE).readElements(0, bytes.length, 0);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OrthancError);
    expect((error as OrthancError).details).toMatch(details);
  });
});
