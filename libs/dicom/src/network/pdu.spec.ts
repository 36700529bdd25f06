import {
  decodeAssociateAc,
  decodePData,
  decodeResponse,
  encodeAssociateRq,
  encodeCStoreRq,
  encodePData,
  isStoreSuccess,
  PDU_TYPE,
  PduFormatError,
  PduReader,
  PduSizeGuard,
  pDataPdus,
  pDataPdusOfStream,
  statusText,
} from './pdu';

/** An A-ASSOCIATE-AC body as a peer sends it: fixed fields, then the given items. */
function acBody(...items: Buffer[]): Buffer {
  return Buffer.concat([Buffer.alloc(68), ...items]);
}
function item(type: number, content: Buffer): Buffer {
  const header = Buffer.from([type, 0, 0, 0]);
  header.writeUInt16BE(content.length, 2);
  return Buffer.concat([header, content]);
}

describe('PDUs', () => {
  it('encodes an A-ASSOCIATE-RQ with its AE titles, contexts and user information', () => {
    const rq = encodeAssociateRq({
      callingAet: 'DEIDFLOW',
      calledAet: 'PACS',
      contexts: [{ id: 1, abstractSyntaxUid: '1.2.840.10008.1.1', transferSyntaxUids: ['1.2.840.10008.1.2'] }],
      maxPduLength: 65536,
      implementationClassUid: '2.25.1',
      implementationVersionName: 'X',
    });
    expect(rq[0]).toBe(PDU_TYPE.AssociateRq);
    expect(rq.readUInt32BE(2)).toBe(rq.length - 6);
    expect(rq.subarray(10, 26).toString('latin1')).toBe('PACS            ');
    expect(rq.subarray(26, 42).toString('latin1')).toBe('DEIDFLOW        ');
    expect(rq.includes(Buffer.from('1.2.840.10008.3.1.1.1'))).toBe(true);
    expect(rq.includes(Buffer.from([0x51, 0, 0, 4, 0, 1, 0, 0]))).toBe(true); // max length 65536
  });

  it('reads the accepted contexts and the maximum PDU length of an A-ASSOCIATE-AC', () => {
    const ts = (uid: string) => item(0x40, Buffer.from(uid));
    const body = acBody(
      item(0x10, Buffer.from('1.2.840.10008.3.1.1.1')),
      item(0x21, Buffer.concat([Buffer.from([1, 0, 0, 0]), ts('1.2.840.10008.1.2.1\0')])),
      item(0x21, Buffer.concat([Buffer.from([3, 0, 3, 0]), ts('1.2.840.10008.1.2')])), // abstract syntax not supported
      item(0x50, item(0x51, Buffer.from([0, 0, 0x40, 0]))),
    );
    const accept = decodeAssociateAc(body);
    expect([...accept.accepted]).toEqual([[1, '1.2.840.10008.1.2.1']]);
    expect(accept.maxPduLength).toBe(16384);
    expect(() => decodeAssociateAc(acBody(Buffer.from([0x21, 0, 0, 200])))).toThrow(PduFormatError);
  });

  it('splits a dataset into P-DATA-TF PDUs under the peer\'s maximum, the last one flagged, and reads them back', () => {
    const data = Buffer.from(Array.from({ length: 25 }, (_, i) => i));
    const pdus = encodePData(5, false, data, 16); // 10 bytes of data per PDU
    expect(pdus.map((pdu) => pdu.length - 6)).toEqual([16, 16, 11]);
    const pdvs = pdus.flatMap((pdu) => decodePData(pdu.subarray(6)));
    expect(pdvs.map((pdv) => [pdv.contextId, pdv.isCommand, pdv.isLast])).toEqual([[5, false, false], [5, false, false], [5, false, true]]);
    expect(Buffer.concat(pdvs.map((pdv) => pdv.data)).equals(data)).toBe(true);
    expect(encodePData(1, true, Buffer.alloc(0), 0)).toHaveLength(1);
  });

  it('splits a streamed dataset exactly as the same bytes in one piece, whatever the chunks', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const whole = [...pDataPdus(3, false, data, 106)].map(([header, fragment]) => Buffer.concat([header, fragment]));
    for (const cut of [1, 7, 100, 101, 999, 1000, 4096]) {
      async function* chunks() {
        for (let offset = 0; offset < data.length; offset += cut) yield data.subarray(offset, offset + cut);
      }
      const streamed: Buffer[] = [];
      for await (const [header, fragment] of pDataPdusOfStream(3, false, chunks(), 106)) streamed.push(Buffer.concat([header, fragment]));
      expect({ cut, same: Buffer.concat(streamed).equals(Buffer.concat(whole)) }).toEqual({ cut, same: true });
    }
    const empty: Buffer[] = [];
    for await (const [header] of pDataPdusOfStream(1, false, (async function* () {})(), 0)) empty.push(header);
    expect(empty.map((header) => header[11])).toEqual([2]); // one last, empty fragment
  });

  it('reassembles PDUs from any cut of the stream, and refuses one announced above its limit', () => {
    const stream = Buffer.concat([...encodePData(1, true, Buffer.alloc(40, 7), 0), ...encodePData(3, false, Buffer.alloc(5, 9), 0)]);
    const reader = new PduReader(1000);
    const pdus = [...stream].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(pdus.map((pdu) => [pdu.type, pdu.body.length])).toEqual([[4, 46], [4, 11]]);
    expect(() => new PduReader(10).push(stream)).toThrow(PduFormatError);
  });
});

describe('PduSizeGuard', () => {
  it('lets PDUs within the limits through, whatever the cuts of the stream, and stops at the first one announced above them', () => {
    const fine = Buffer.concat([...encodePData(1, false, Buffer.alloc(100), 0), ...encodePData(1, true, Buffer.alloc(3), 0)]);
    const guard = new PduSizeGuard(106, 64);
    for (const byte of fine) expect(guard.accept(Buffer.from([byte]))).toBe(true);
    const bomb = Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xf0]);
    expect(guard.accept(bomb.subarray(0, 3))).toBe(true);
    expect(guard.accept(bomb.subarray(3))).toBe(false);
    // Another PDU type has its own limit (an A-ASSOCIATE-RQ is small).
    expect(new PduSizeGuard(1 << 20, 64).accept(Buffer.from([0x01, 0, 0, 0, 1, 0]))).toBe(false);
  });
});

describe('DIMSE command sets', () => {
  it('encodes a C-STORE-RQ in implicit VR little endian, UIDs padded to even length', () => {
    const command = encodeCStoreRq(7, '1.2.840.10008.5.1.4.1.1.2', '1.2.3');
    expect(command.readUInt32LE(8)).toBe(command.length - 12); // CommandGroupLength
    expect(command.includes(Buffer.from('1.2.3\0'))).toBe(true);
  });

  it('reads a response\'s status, the message it answers and its comment', () => {
    const element = (tag: number, value: Buffer) => {
      const header = Buffer.alloc(8);
      header.writeUInt16LE(0, 0);
      header.writeUInt16LE(tag, 2);
      header.writeUInt32LE(value.length, 4);
      return Buffer.concat([header, value]);
    };
    const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);
    const response = decodeResponse(Buffer.concat([element(0x0100, us(0x8001)), element(0x0120, us(7)), element(0x0900, us(0xa700)), element(0x0902, Buffer.from('full '))]));
    expect(response).toEqual({ commandField: 0x8001, messageIdBeingRespondedTo: 7, status: 0xa700, errorComment: 'full' });
    expect(() => decodeResponse(element(0x0100, us(0x8001)))).toThrow(PduFormatError);
    expect(statusText(0xa700)).toBe('0xA700');
    expect([0x0000, 0xb000, 0xb007, 0x0111, 0xb001, 0xa700, 0xc000].map(isStoreSuccess)).toEqual([true, true, true, true, false, false, false]);
  });
});
