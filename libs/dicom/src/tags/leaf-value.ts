import { decodeText, OrthancEncoding } from './orthanc-encoding';

/** A leaf as Orthanc's DicomValue holds it: a string, or null (binary, empty numeric, unsupported VR). */
export type LeafValue = string | null;

/** What DCMTK's isaString() says: these values go through getString(). */
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

interface NumberCodec {
  readonly size: number;
  read(view: DataView, offset: number, littleEndian: boolean): string;
}

/** boost::lexical_cast<std::string> of each C type: integers plainly, floats with 9 / 17 significant digits. */
const NUMBER_CODECS: Record<string, NumberCodec> = {
  US: { size: 2, read: (v, o, le) => String(v.getUint16(o, le)) },
  SS: { size: 2, read: (v, o, le) => String(v.getInt16(o, le)) },
  UL: { size: 4, read: (v, o, le) => String(v.getUint32(o, le)) },
  SL: { size: 4, read: (v, o, le) => String(v.getInt32(o, le)) },
  FL: { size: 4, read: (v, o, le) => formatLikeC(v.getFloat32(o, le), 9) },
  FD: { size: 8, read: (v, o, le) => formatLikeC(v.getFloat64(o, le), 17) },
};

export function isStringVr(vr: string): boolean {
  return STRING_VRS.has(vr);
}

/**
 * FromDcmtkBridge::ConvertLeafElement with Orthanc's default flags (binary values become null):
 * strings lose their trailing padding and are converted to UTF-8; numbers are printed and joined
 * with '\'; an attribute tag prints as 'gggg,eeee'; everything else is null.
 */
export function leafValue(vr: string, bytes: Uint8Array, littleEndian: boolean, encoding: OrthancEncoding): LeafValue {
  if (STRING_VRS.has(vr)) {
    return decodeText(machineString(bytes, vr === 'UI' ? 0x00 : 0x20), encoding);
  }
  const codec = NUMBER_CODECS[vr];
  if (codec) return numbers(codec, bytes, littleEndian);
  if (vr === 'AT' && bytes.length >= 4) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hex = (n: number) => n.toString(16).padStart(4, '0');
    return `${hex(view.getUint16(0, littleEndian))},${hex(view.getUint16(2, littleEndian))}`;
  }
  return null;
}

/**
 * An element of VR UN whose tag the dictionary gives a string VR: Orthanc shows it as is (no padding
 * removed, no character set conversion) when it is printable ASCII (Toolbox::IsAsciiString).
 */
export function unknownVrAsString(bytes: Uint8Array): LeafValue {
  for (const byte of bytes) {
    if (byte < 0x20 || byte > 0x7e) return null;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * DcmByteString::getString: trailing padding removed (spaces, or NULs for UI), then read as a C string,
 * which ends at the first NUL.
 */
function machineString(bytes: Uint8Array, paddingByte: number): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === paddingByte) end--;
  const nul = bytes.indexOf(0);
  if (nul !== -1 && nul < end) end = nul;
  return end === bytes.length ? bytes : bytes.subarray(0, end);
}

/** ApplyDcmtkToCTypeConverter: every value when the length is a multiple, else the first one, else null. */
function numbers(codec: NumberCodec, bytes: Uint8Array, littleEndian: boolean): LeafValue {
  if (bytes.length < codec.size) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === codec.size || bytes.length % codec.size !== 0) return codec.read(view, 0, littleEndian);
  const values: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += codec.size) values.push(codec.read(view, offset, littleEndian));
  return values.join('\\');
}

/** printf("%.<precision>g"), which is what a C++ stream gives a float or double with that precision. */
export function formatLikeC(value: number, precision: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const scientific = value.toExponential(precision - 1);
  const exponent = Number(scientific.slice(scientific.indexOf('e') + 1));
  if (exponent < -4 || exponent >= precision) {
    const [mantissa] = scientific.split('e');
    const sign = exponent < 0 ? '-' : '+';
    return `${stripZeros(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return stripZeros(value.toFixed(precision - 1 - exponent));
}

function stripZeros(decimal: string): string {
  return decimal.includes('.') ? decimal.replace(/\.?0+$/, '') : decimal;
}
