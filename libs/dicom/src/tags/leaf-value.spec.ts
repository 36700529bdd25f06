import { formatLikeC, leafValue } from './leaf-value';
import { detectEncoding } from './orthanc-encoding';

const LATIN1 = detectEncoding('ISO_IR 100');

function bytes(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

describe('formatLikeC (what boost::lexical_cast prints for FL and FD)', () => {
  it.each([
    [0.8, 17, '0.80000000000000004'],
    [1e-5, 17, '1.0000000000000001e-05'],
    [1e20, 17, '1e+20'],
    [1e16, 17, '10000000000000000'],
    [1e17, 17, '1e+17'],
    [-2.5e-300, 17, '-2.5e-300'],
    [100, 17, '100'],
    [0, 17, '0'],
    [Math.fround(0.1), 9, '0.100000001'],
    [Math.fround(1.1), 9, '1.10000002'],
    [Math.fround(123456789), 9, '123456792'],
    [Math.fround(3.4e38), 9, '3.39999995e+38'],
    [Math.fround(0.5), 9, '0.5'],
  ])('%p with %i digits is %s', (value, precision, expected) => {
    expect(formatLikeC(value, precision)).toBe(expected);
  });
});

describe('leafValue (FromDcmtkBridge::ConvertLeafElement)', () => {
  it('strips the trailing padding of strings (spaces, NULs for UI) but not the leading spaces', () => {
    expect(leafValue('LO', bytes(' AX.  FSE PD '), true, LATIN1)).toBe(' AX.  FSE PD');
    expect(leafValue('UI', bytes('1.2.3\0'), true, LATIN1)).toBe('1.2.3');
    expect(leafValue('DS', bytes('0.332\\0.332 '), true, LATIN1)).toBe('0.332\\0.332');
    expect(leafValue('LO', bytes(''), true, LATIN1)).toBe('');
  });

  it('reads a string as a C string: it ends at the first NUL', () => {
    expect(leafValue('LO', bytes('ABC \0'), true, LATIN1)).toBe('ABC ');
  });

  it('converts from the character set of the file; unknown character sets keep printable ASCII only', () => {
    expect(leafValue('PN', bytes('J\xe9r\xf4me'), true, LATIN1)).toBe('Jérôme');
    expect(leafValue('LT', bytes('a\r\nb\xe9'), true, detectEncoding('ISO_IR 6'))).toBe('ab');
    expect(leafValue('LO', bytes('\xe9'), true, detectEncoding(undefined))).toBe('é');
  });

  it('prints numbers joined with "\\", null when empty', () => {
    expect(leafValue('US', Uint8Array.of(0, 0, 0x80, 1, 0xe0, 0, 0, 0), true, LATIN1)).toBe('0\\384\\224\\0');
    expect(leafValue('SS', Uint8Array.of(0xff, 0xff), true, LATIN1)).toBe('-1');
    expect(leafValue('US', Uint8Array.of(1, 0), false, LATIN1)).toBe('256');
    expect(leafValue('UL', new Uint8Array(0), true, LATIN1)).toBeNull();
  });

  it('prints the first attribute tag as gggg,eeee and gives null for binary VRs', () => {
    expect(leafValue('AT', Uint8Array.of(0x62, 0, 0x0b, 0), true, LATIN1)).toBe('0062,000b');
    expect(leafValue('OB', Uint8Array.of(1, 2), true, LATIN1)).toBeNull();
    expect(leafValue('UN', bytes('AB'), true, LATIN1)).toBeNull();
  });
});
