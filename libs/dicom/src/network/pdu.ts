/**
 * The DICOM upper layer protocol's PDUs (PS3.8 9.3) and the DIMSE command sets (PS3.7 E, implicit
 * VR little endian) that a storage SCU sends and reads: encoding and decoding only, no I/O. The
 * DICOM server side is dcmjs-dimse's; the sending side is ours because it must send each dataset's
 * bytes as they are stored (dcmjs-dimse's SCU re-encodes every dataset through dcmjs, which drops
 * the private tags it does not know).
 */

export const PDU_TYPE = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PData: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
const PDU_HEADER = 6;
/** Item length (4), presentation context ID (1), message control header (1). */
const PDV_HEADER = 6;

export const COMMAND_FIELD = { CStoreRq: 0x0001, CStoreRsp: 0x8001, CEchoRq: 0x0030, CEchoRsp: 0x8030 } as const;
const NO_DATASET = 0x0101;

export interface ProposedPresentationContext {
  /** Odd, 1 to 255. */
  readonly id: number;
  readonly abstractSyntaxUid: string;
  readonly transferSyntaxUids: readonly string[];
}

export interface AssociateRequest {
  readonly callingAet: string;
  readonly calledAet: string;
  readonly contexts: readonly ProposedPresentationContext[];
  /** The largest PDU this side accepts (0: no limit). */
  readonly maxPduLength: number;
  readonly implementationClassUid: string;
  readonly implementationVersionName: string;
}

export interface AssociateAccept {
  /** Accepted contexts: ID → the transfer syntax chosen by the acceptor. */
  readonly accepted: ReadonlyMap<number, string>;
  /** The largest PDU the acceptor accepts (0: no limit). */
  readonly maxPduLength: number;
}

/** A PDU read whole: its type and body (the bytes after the 6-byte header). */
export interface Pdu {
  readonly type: number;
  readonly body: Buffer;
}

/** One presentation data value of a P-DATA-TF. */
export interface Pdv {
  readonly contextId: number;
  readonly isCommand: boolean;
  readonly isLast: boolean;
  readonly data: Buffer;
}

export class PduFormatError extends Error {}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

function item(type: number, content: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(content.length, 2);
  return Buffer.concat([header, content]);
}

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(PDU_HEADER);
  header[0] = type;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** An AE title field: 16 bytes, space padded. */
function aeTitle(title: string): Buffer {
  return ascii(title.padEnd(16, ' ').slice(0, 16));
}

export function encodeAssociateRq(request: AssociateRequest): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0); // protocol version
  aeTitle(request.calledAet).copy(fixed, 4);
  aeTitle(request.callingAet).copy(fixed, 20);
  const contexts = request.contexts.map((context) => {
    const header = Buffer.from([context.id, 0, 0, 0]);
    const syntaxes = context.transferSyntaxUids.map((uid) => item(0x40, ascii(uid)));
    return item(0x20, Buffer.concat([header, item(0x30, ascii(context.abstractSyntaxUid)), ...syntaxes]));
  });
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(request.maxPduLength, 0);
  const userInformation = item(
    0x50,
    Buffer.concat([item(0x51, maxLength), item(0x52, ascii(request.implementationClassUid)), item(0x55, ascii(request.implementationVersionName))]),
  );
  return pdu(PDU_TYPE.AssociateRq, Buffer.concat([fixed, item(0x10, ascii(APPLICATION_CONTEXT)), ...contexts, userInformation]));
}

/** The items of an A-ASSOCIATE-AC body, after its 68 fixed bytes. */
export function decodeAssociateAc(body: Buffer): AssociateAccept {
  if (body.length < 68) throw new PduFormatError('A-ASSOCIATE-AC shorter than its fixed fields');
  const accepted = new Map<number, string>();
  let maxPduLength = 0;
  for (const { type, content } of items(body, 68)) {
    if (type === 0x21) {
      if (content.length < 4) throw new PduFormatError('presentation context item too short');
      const [id, , result] = content;
      if (result !== 0) continue; // refused: user, no reason, abstract syntax or transfer syntaxes not supported
      const syntax = items(content, 4).find((sub) => sub.type === 0x40);
      if (syntax) accepted.set(id, uidText(syntax.content));
    } else if (type === 0x50) {
      const maximum = items(content, 0).find((sub) => sub.type === 0x51);
      if (maximum && maximum.content.length >= 4) maxPduLength = maximum.content.readUInt32BE(0);
    }
  }
  return { accepted, maxPduLength };
}

/** A-ASSOCIATE-RJ: result (1 permanent, 2 transient), source, reason (PS3.8 9.3.4). */
export function decodeAssociateRj(body: Buffer): { result: number; source: number; reason: number } {
  if (body.length < 4) throw new PduFormatError('A-ASSOCIATE-RJ too short');
  return { result: body[1], source: body[2], reason: body[3] };
}

function items(buffer: Buffer, from: number): { type: number; content: Buffer }[] {
  const found: { type: number; content: Buffer }[] = [];
  for (let offset = from; offset < buffer.length; ) {
    if (offset + 4 > buffer.length) throw new PduFormatError('item header cut short');
    const length = buffer.readUInt16BE(offset + 2);
    if (offset + 4 + length > buffer.length) throw new PduFormatError('item longer than its PDU');
    found.push({ type: buffer[offset], content: buffer.subarray(offset + 4, offset + 4 + length) });
    offset += 4 + length;
  }
  return found;
}

function uidText(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[\0 ]+$/, '');
}

/** Fragments are never larger, whatever the peer accepts: PDUs smaller than its maximum are always legal. */
const MAX_FRAGMENT = 1 << 20;

/** The largest PDV data a PDU may carry under the peer's maximum PDU length (0: no limit), at most 1 MiB. */
export function fragmentSize(maxPduLength: number): number {
  // A PDU's length counts its body (PDV item header and data), not its own 6-byte header.
  return maxPduLength > PDV_HEADER ? Math.min(maxPduLength - PDV_HEADER, MAX_FRAGMENT) : MAX_FRAGMENT;
}

/** The 12 bytes before a PDV's data in a P-DATA-TF that carries that PDV alone. */
export function pDataHeader(contextId: number, isCommand: boolean, isLast: boolean, fragmentLength: number): Buffer {
  const header = Buffer.alloc(PDU_HEADER + PDV_HEADER);
  header[0] = PDU_TYPE.PData;
  header.writeUInt32BE(PDV_HEADER + fragmentLength, 2);
  header.writeUInt32BE(2 + fragmentLength, 6);
  header[10] = contextId;
  header[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  return header;
}

/**
 * P-DATA-TF PDUs carrying `data` on `contextId`, split so that no PDU exceeds `maxPduLength` (0: no
 * limit), each as its 12-byte header and a view of `data`: a large dataset is not copied.
 */
export function* pDataPdus(contextId: number, isCommand: boolean, data: Uint8Array, maxPduLength: number): Generator<[header: Buffer, fragment: Uint8Array]> {
  const size = fragmentSize(maxPduLength);
  let offset = 0;
  do {
    const fragment = data.subarray(offset, offset + size);
    offset += fragment.length;
    yield [pDataHeader(contextId, isCommand, offset >= data.length, fragment.length), fragment];
  } while (offset < data.length);
}

/**
 * The same for data that arrives in chunks (a file streamed from the store): fragments of exactly
 * the PDU's size but the last, views of the chunks except where a fragment straddles two.
 */
export async function* pDataPdusOfStream(contextId: number, isCommand: boolean, chunks: AsyncIterable<Uint8Array>, maxPduLength: number): AsyncGenerator<[header: Buffer, fragment: Uint8Array]> {
  const size = fragmentSize(maxPduLength);
  let held: Uint8Array | undefined; // the last full fragment, sent once it is known not to be the last
  let pieces: Uint8Array[] = [];
  let filled = 0;
  for await (const chunk of chunks) {
    for (let offset = 0; offset < chunk.length; ) {
      const piece = chunk.subarray(offset, offset + size - filled);
      pieces.push(piece);
      filled += piece.length;
      offset += piece.length;
      if (filled < size) continue;
      if (held) yield [pDataHeader(contextId, isCommand, false, held.length), held];
      held = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, filled);
      pieces = [];
      filled = 0;
    }
  }
  if (filled > 0) {
    if (held) yield [pDataHeader(contextId, isCommand, false, held.length), held];
    held = Buffer.concat(pieces, filled);
  }
  held ??= new Uint8Array(0);
  yield [pDataHeader(contextId, isCommand, true, held.length), held];
}

/** pDataPdus, each PDU in one buffer (for command sets, which are small). */
export function encodePData(contextId: number, isCommand: boolean, data: Uint8Array, maxPduLength: number): Buffer[] {
  return [...pDataPdus(contextId, isCommand, data, maxPduLength)].map(([header, fragment]) => Buffer.concat([header, fragment]));
}

export function decodePData(body: Buffer): Pdv[] {
  const pdvs: Pdv[] = [];
  for (let offset = 0; offset < body.length; ) {
    if (offset + PDV_HEADER > body.length) throw new PduFormatError('PDV header cut short');
    const length = body.readUInt32BE(offset);
    if (length < 2 || offset + 4 + length > body.length) throw new PduFormatError('PDV longer than its PDU');
    const control = body[offset + 5];
    pdvs.push({ contextId: body[offset + 4], isCommand: (control & 1) === 1, isLast: (control & 2) === 2, data: body.subarray(offset + 6, offset + 4 + length) });
    offset += 4 + length;
  }
  return pdvs;
}

export const encodeReleaseRq = (): Buffer => pdu(PDU_TYPE.ReleaseRq, Buffer.alloc(4));
export const encodeReleaseRp = (): Buffer => pdu(PDU_TYPE.ReleaseRp, Buffer.alloc(4));
/** A-ABORT from the service user (source 0), no reason. */
export const encodeAbort = (): Buffer => pdu(PDU_TYPE.Abort, Buffer.alloc(4));

/**
 * Splits a byte stream into whole PDUs: push() what the socket gives, take the PDUs completed. A PDU
 * announcing more than `maxLength` bytes is refused before it is buffered (a peer cannot make this
 * side hold an arbitrary amount).
 */
export class PduReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxLength: number) {}

  push(chunk: Buffer): Pdu[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const pdus: Pdu[] = [];
    while (this.buffered >= PDU_HEADER) {
      const head = this.peek(PDU_HEADER);
      const length = head.readUInt32BE(2);
      if (length > this.maxLength) throw new PduFormatError(`PDU of ${length} bytes, above the ${this.maxLength} accepted`);
      if (this.buffered < PDU_HEADER + length) break;
      const whole = this.take(PDU_HEADER + length);
      pdus.push({ type: whole[0], body: whole.subarray(PDU_HEADER) });
    }
    return pdus;
  }

  private peek(size: number): Buffer {
    if (this.chunks[0].length < size) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, size);
  }

  private take(size: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > size ? [all.subarray(size)] : [];
    this.buffered -= size;
    return all.subarray(0, size);
  }
}

/**
 * Watches the PDU headers of a byte stream without buffering it, for a server whose protocol
 * library trusts them (dcmjs-dimse buffers whatever length a header announces): a P-DATA-TF above
 * the maximum PDU length this side announced, or another PDU above `maxOther`, means the peer is
 * broken or hostile, and its connection should end before that much is held.
 */
export class PduSizeGuard {
  private header = Buffer.alloc(PDU_HEADER);
  private headerFill = 0;
  private remaining = 0;

  constructor(
    private readonly maxPData: number,
    private readonly maxOther: number,
  ) {}

  /** False once a PDU announces more than allowed. */
  accept(chunk: Uint8Array): boolean {
    for (let offset = 0; offset < chunk.length; ) {
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= skipped;
        offset += skipped;
        continue;
      }
      const copied = Math.min(PDU_HEADER - this.headerFill, chunk.length - offset);
      this.header.set(chunk.subarray(offset, offset + copied), this.headerFill);
      this.headerFill += copied;
      offset += copied;
      if (this.headerFill < PDU_HEADER) break;
      this.headerFill = 0;
      const length = this.header.readUInt32BE(2);
      if (length > (this.header[0] === PDU_TYPE.PData ? this.maxPData : this.maxOther)) return false;
      this.remaining = length;
    }
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// DIMSE command sets: group 0000, implicit VR little endian, led by CommandGroupLength.

const TAG = {
  AffectedSOPClassUID: 0x00000002,
  CommandField: 0x00000100,
  MessageID: 0x00000110,
  MessageIDBeingRespondedTo: 0x00000120,
  Priority: 0x00000700,
  CommandDataSetType: 0x00000800,
  Status: 0x00000900,
  ErrorComment: 0x00000902,
  AffectedSOPInstanceUID: 0x00001000,
} as const;

function element(tag: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}

function us(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(value, 0);
  return bytes;
}

/** A UID value, padded to even length with a NUL (PS3.5 9.1). */
function ui(uid: string): Buffer {
  return ascii(uid.length % 2 === 0 ? uid : `${uid}\0`);
}

function commandSet(elements: Buffer[]): Buffer {
  const rest = Buffer.concat(elements);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(rest.length, 0);
  return Buffer.concat([element(0x00000000, length), rest]);
}

export function encodeCEchoRq(messageId: number, sopClassUid: string): Buffer {
  return commandSet([
    element(TAG.AffectedSOPClassUID, ui(sopClassUid)),
    element(TAG.CommandField, us(COMMAND_FIELD.CEchoRq)),
    element(TAG.MessageID, us(messageId)),
    element(TAG.CommandDataSetType, us(NO_DATASET)),
  ]);
}

export function encodeCStoreRq(messageId: number, sopClassUid: string, sopInstanceUid: string): Buffer {
  return commandSet([
    element(TAG.AffectedSOPClassUID, ui(sopClassUid)),
    element(TAG.CommandField, us(COMMAND_FIELD.CStoreRq)),
    element(TAG.MessageID, us(messageId)),
    element(TAG.Priority, us(0)),
    element(TAG.CommandDataSetType, us(0x0000)),
    element(TAG.AffectedSOPInstanceUID, ui(sopInstanceUid)),
  ]);
}

/** What an SCU reads of a response's command set. */
export interface DimseResponse {
  readonly commandField: number;
  readonly messageIdBeingRespondedTo: number;
  readonly status: number;
  readonly errorComment?: string;
}

export function decodeResponse(command: Buffer): DimseResponse {
  const values = new Map<number, Buffer>();
  for (let offset = 0; offset < command.length; ) {
    if (offset + 8 > command.length) throw new PduFormatError('command element cut short');
    const tag = ((command.readUInt16LE(offset) << 16) | command.readUInt16LE(offset + 2)) >>> 0;
    const length = command.readUInt32LE(offset + 4);
    if (offset + 8 + length > command.length) throw new PduFormatError('command element longer than its command set');
    values.set(tag, command.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  const uint16 = (tag: number): number => {
    const value = values.get(tag);
    if (!value || value.length < 2) throw new PduFormatError(`response without ${tag.toString(16).padStart(8, '0')}`);
    return value.readUInt16LE(0);
  };
  const comment = values.get(TAG.ErrorComment);
  return {
    commandField: uint16(TAG.CommandField),
    messageIdBeingRespondedTo: uint16(TAG.MessageIDBeingRespondedTo),
    status: uint16(TAG.Status),
    ...(comment ? { errorComment: comment.toString('latin1').replace(/[\0 ]+$/, '') } : {}),
  };
}

/** A DIMSE status as DICOM texts write it: 0xA700. */
export function statusText(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * PS3.4 B.2.3: success, and the warnings that mean stored (B000 coercion of data elements, B006
 * elements discarded, B007 data set does not match SOP class), as Orthanc counts them; 0111
 * (duplicate SOP instance: the node has it already) too, as Orthanc since 1.12.4.
 */
export function isStoreSuccess(status: number): boolean {
  return status === 0x0000 || status === 0xb000 || status === 0xb006 || status === 0xb007 || status === 0x0111;
}
