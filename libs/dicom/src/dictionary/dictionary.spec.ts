import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { CharacterSet } from './charset';
import { describeTag, lookupKeyword, lookupTag, parseTag } from './dictionary';
import { formatTag, isPrivateCreatorTag, isPrivateTag, privateCreatorOf, tagFromKey, tagKey } from './tag';

describe('tags', () => {
  it('formats and parses keys', () => {
    expect(tagKey(0x0008103e)).toBe('0008103E');
    expect(formatTag(0x0008103e)).toBe('(0008,103e)');
    expect(tagFromKey('7FE00010')).toBe(0x7fe00010);
    expect(() => tagFromKey('7FE0001')).toThrow(RangeError);
  });

  it('knows private tags and their creators', () => {
    expect(isPrivateTag(0x00091001)).toBe(true);
    expect(isPrivateTag(0x00100010)).toBe(false);
    expect(isPrivateTag(0xfffee000)).toBe(false);
    expect(isPrivateCreatorTag(0x00090010)).toBe(true);
    expect(privateCreatorOf(0x00e110c2)).toBe(0x00e10010);
    expect(privateCreatorOf(0x00090010)).toBeUndefined();
  });
});

describe('dictionary', () => {
  it('looks up keywords and tags, repeating groups included', () => {
    expect(lookupKeyword('PatientName')).toMatchObject({ tag: 0x00100010, vr: 'PN' });
    expect(lookupTag(0x7fe00010)?.vr).toBe('OW');
    expect(lookupTag(0x60023000)?.keyword).toBe('OverlayData');
    expect(describeTag(0x00091001)).toBe('(0009,1001)');
  });

  it.each([
    ['PatientID', 0x00100020],
    ['0010-0020', 0x00100020],
    ['0010,0020', 0x00100020],
    ['(0010,0020)', 0x00100020],
    ['00100020', 0x00100020],
    ['0008-103e', 0x0008103e],
    ['(00e1,10c2)', 0x00e110c2],
  ])('parses %p', (text, tag) => {
    expect(parseTag(text)).toBe(tag);
  });

  it.each(['NoSuchTag', '0010,002', '(0010,0020', 'patientname', '', 'Patient Name'])('refuses %p as UnknownDicomTag', (text) => {
    let error: unknown;
    try {
      parseTag(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OrthancError);
    expect((error as OrthancError).code).toBe(OrthancErrorCode.UnknownDicomTag);
    expect((error as OrthancError).details).toBe(`Unknown DICOM tag: ${JSON.stringify(text)}`);
  });
});

describe('character sets', () => {
  it('encodes ASCII everywhere and stops at what a set cannot hold', () => {
    expect(Buffer.from(CharacterSet.DEFAULT.encode('ABC')!)).toEqual(Buffer.from('ABC'));
    expect(CharacterSet.DEFAULT.encode('é')).toBeUndefined();
    expect(Buffer.from(CharacterSet.fromDeclaration('ISO_IR 100').encode('Müller')!)).toEqual(Buffer.from('Müller', 'latin1'));
    expect(Buffer.from(CharacterSet.fromDeclaration('ISO_IR 192').encode('Łódź')!)).toEqual(Buffer.from('Łódź', 'utf8'));
    expect([...CharacterSet.fromDeclaration('ISO_IR 101').encode('Ł')!]).toEqual([0xa3]);
    expect([...CharacterSet.fromDeclaration('ISO_IR 144').encode('Д')!]).toEqual([0xb4]);
    expect([...CharacterSet.fromDeclaration('ISO 2022 IR 100\\ISO 2022 IR 126').encode('é')!]).toEqual([0xe9]);
    expect(CharacterSet.fromDeclaration('ISO_IR 100').encode('Ł')).toBeUndefined();
    expect(CharacterSet.fromDeclaration('\\ISO 2022 IR 87').encode('山')).toBeUndefined();
  });

  it('decodes', () => {
    expect(CharacterSet.fromDeclaration('ISO_IR 100').decode(Buffer.from('Müller', 'latin1'))).toBe('Müller');
    expect(CharacterSet.fromDeclaration('ISO_IR 192').decode(Buffer.from('Łódź', 'utf8'))).toBe('Łódź');
    expect(CharacterSet.fromDeclaration('ISO_IR 144').decode(Uint8Array.of(0xb4))).toBe('Д');
  });
});
