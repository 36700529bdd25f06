import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Client, constants, requests, responses } from 'dcmjs-dimse';
import { parseInstance } from '@deidflow/dicom';
import { DicomServer } from '../../apps/api/src/dicom/dicom-server';
import { RequestBodyBudget } from '../../apps/api/src/http/request-body-budget';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { samplePath } from '../support/samples';

const { Status } = constants;
/** DCMTK, installed by .ci/run; the test that needs it is skipped without it. */
const hasStorescu = spawnSync('storescu', ['--version']).status === 0;

interface Association {
  /** The status of each request's response, in order; `rejected` when the association was refused. */
  statuses: number[];
  rejected: boolean;
}

/** Sends requests over one association, as a modality or a PACS would (dcmjs-dimse's SCU, real TCP). */
function associate(port: number, requestsToSend: requests.Request[], calledAet = 'DEIDFLOW', callingAet = 'MODALITY1'): Promise<Association> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const statuses: number[] = [];
    let rejected = false;
    for (const request of requestsToSend) {
      request.on('response', (response: responses.Response) => statuses.push(response.getStatus()));
      client.addRequest(request);
    }
    client.on('associationRejected', () => (rejected = true));
    client.on('networkError', reject);
    client.on('closed', () => resolve({ statuses, rejected }));
    client.send('127.0.0.1', port, callingAet, calledAet);
  });
}

const KNIX_JPEG_LOSSLESS = 'orthanc-tests/Knix/Loc/IM-0001-0001.dcm';
const store = (name: string) => new requests.CStoreRequest(samplePath(name));
const instanceIdOf = (name: string) => parseInstance(readFileSync(samplePath(name))).ids.instance;

/** Orthanc's DICOM server: C-ECHO, and C-STORE into the index as uploads (storage-scp.ts). */
describe('DICOM networking (C-ECHO, C-STORE)', () => {
  let api: RunningApi;
  let port: number;
  const call = (method: string, path: string, body?: string | object) => http(api.baseUrl, method, path, body);

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { DICOM_CHECK_CALLED_AET: 'true', DICOM_AET: 'DEIDFLOW' }));
    port = api.app.get(DicomServer).port!;
  });
  afterAll(() => api?.close(), 30_000);

  it('answers C-ECHO, and GET /system names its AE title and port', async () => {
    expect(await associate(port, [new requests.CEchoRequest()])).toEqual({ statuses: [Status.Success], rejected: false });
    const system = (await call('GET', '/system')).body;
    expect(system).toMatchObject({ DicomAet: 'DEIDFLOW', DicomPort: port });
  });

  it('stores what it receives as an upload of the same file would: same ID, the reception recorded, no duplicate', async () => {
    // Without private tags: dcmjs-dimse's SCU re-encodes datasets, and warns about (and drops) private tags it does not know.
    const names = ['pydicom/test_files/CT_small.dcm', 'pydicom/test_files/rtplan.dcm', 'orthanc-tests/DummyCT.dcm'];
    const association = await associate(port, names.map(store));
    expect(association).toEqual({ statuses: names.map(() => Status.Success), rejected: false });

    const id = instanceIdOf(names[0]);
    expect((await call('GET', `/instances/${id}`)).status).toBe(200);
    const file = (await call('GET', `/instances/${id}/file`)).bytes;
    expect(parseInstance(file).transferSyntaxUid).toBe((await call('GET', `/instances/${id}/metadata/TransferSyntax`)).body);
    const metadata = (await call('GET', `/instances/${id}/metadata?expand`)).body;
    expect(metadata).toMatchObject({ Origin: 'DicomProtocol', RemoteAET: 'MODALITY1', CalledAET: 'DEIDFLOW', RemoteIP: '127.0.0.1' });
    expect((await call('GET', '/statistics')).body.CountInstances).toBe(3);

    // Sent again: success, nothing stored twice, the first reception kept.
    expect((await associate(port, [store(names[0])], 'DEIDFLOW', 'OTHER')).statuses).toEqual([Status.Success]);
    expect((await call('GET', '/statistics')).body.CountInstances).toBe(3);
    expect((await call('GET', `/instances/${id}/metadata/RemoteAET`)).body).toBe('MODALITY1');
  });

  // DCMTK's storescu sends a file's dataset as it is, or converted between uncompressed syntaxes
  // (dcmjs-dimse's SCU re-encodes it and drops unknown private tags): what arrives is what an upload
  // of the file stores, tag for tag.
  (hasStorescu ? it : it.skip)('stores what DCMTK storescu sends as an upload of the file: the same tags, private ones included', async () => {
    const names = ['orthanc-tests/PrivateTags.dcm', 'pydicom/test_files/MR_small_bigendian.dcm', 'orthanc-tests/ColorTestImageJ.dcm'];
    // Asynchronously: the API answering it runs in this process.
    await promisify(execFile)('storescu', ['-aet', 'PACS', '-aec', 'DEIDFLOW', '127.0.0.1', String(port), ...names.map(samplePath)]);
    for (const name of names) {
      const id = instanceIdOf(name);
      expect((await call('GET', `/instances/${id}/metadata/RemoteAET`)).body).toBe('PACS');
      const received = (await call('GET', `/instances/${id}/tags`)).body;
      expect((await call('DELETE', `/instances/${id}`)).status).toBe(200);
      expect((await call('POST', '/instances', readFileSync(samplePath(name)))).body.ID).toBe(id);
      expect({ name, tags: received }).toEqual({ name, tags: (await call('GET', `/instances/${id}/tags`)).body });
    }
  });

  (hasStorescu ? it : it.skip)('keeps a compressed instance compressed (JPEG lossless, proposed by storescu -xs): its pixel data as sent', async () => {
    const name = KNIX_JPEG_LOSSLESS;
    await promisify(execFile)('storescu', ['-xs', '-aet', 'PACS', '-aec', 'DEIDFLOW', '127.0.0.1', String(port), samplePath(name)]);
    const id = instanceIdOf(name);
    expect((await call('GET', `/instances/${id}/metadata/TransferSyntax`)).body).toBe('1.2.840.10008.1.2.4.70');
    const received = (await call('GET', `/instances/${id}/content/7fe0-0010/1`)).bytes;
    expect(received.length).toBeGreaterThan(0);
    expect((await call('DELETE', `/instances/${id}`)).status).toBe(200);
    expect((await call('POST', '/instances', readFileSync(samplePath(name)))).body.ID).toBe(id);
    expect(received.equals((await call('GET', `/instances/${id}/content/7fe0-0010/1`)).bytes)).toBe(true);
  });

  it('accepts its AE title in any case, as Orthanc', async () => {
    expect(await associate(port, [new requests.CEchoRequest()], 'deidflow')).toEqual({ statuses: [Status.Success], rejected: false });
  });

  it('cuts a connection whose PDU announces more than the server accepts, before buffering it, and goes on serving', async () => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xf0]));
    socket.write(Buffer.alloc(1024 * 1024));
    await closed;
    expect(await associate(port, [new requests.CEchoRequest()])).toEqual({ statuses: [Status.Success], rejected: false });
  });

  it('refuses an association addressed to another AE title (DICOM_CHECK_CALLED_AET), storing nothing', async () => {
    const before = (await call('GET', '/statistics')).body.CountInstances;
    const association = await associate(port, [store('pydicom/test_files/JPEG2000.dcm')], 'SOMEONE_ELSE');
    expect(association.rejected).toBe(true);
    expect(association.statuses).toEqual([]);
    expect((await call('GET', '/statistics')).body.CountInstances).toBe(before);
  });
});

describe('DICOM networking: memory bounds', () => {
  let api: RunningApi;
  const call = (method: string, path: string) => http(api.baseUrl, method, path);

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { HTTP_BODY_LIMIT: '20000' }));
  });
  afterAll(() => api?.close(), 30_000);

  it('answers Out of Resources (A700) for a dataset larger than HTTP_BODY_LIMIT, stores nothing, and goes on', async () => {
    const port = api.app.get(DicomServer).port!;
    const association = await associate(port, [store('pydicom/test_files/CT_small.dcm'), store('orthanc-tests/DummyCT.dcm')]);
    expect(association.statuses).toEqual([0xa700, Status.Success]);
    expect((await call('GET', `/instances/${instanceIdOf('pydicom/test_files/CT_small.dcm')}`)).status).toBe(404);
    expect((await call('GET', '/statistics')).body.CountInstances).toBe(1);
    expect(api.app.get(RequestBodyBudget).reserved).toBe(0);
  });
});
