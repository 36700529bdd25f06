import { mkdir, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { generateSyntheticStudy } from '@deidflow/dicom';
import { objectKeyForInstance } from '@deidflow/storage';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { http } from '../support/http';

/**
 * A store written by an earlier version keeps its instances under the two-level keys
 * (`instances/ab/cd/<id>.dcm`): they stay readable, and uploading one again leaves no second copy
 * under today's key.
 */
describe('instances stored under the earlier key layout', () => {
  let api: RunningApi;
  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false' }));
  });
  afterAll(() => api?.close(), 30_000);

  /** Moves an instance's file and its index row to the two-level key, as an earlier version stored it. */
  async function asEarlierVersionStoredIt(id: string): Promise<void> {
    const root = api.config.STORAGE_DIR;
    const legacyKey = `instances/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}.dcm`;
    await mkdir(dirname(join(root, legacyKey)), { recursive: true });
    await rename(join(root, objectKeyForInstance(id)), join(root, legacyKey));
    const db = new Client({ connectionString: api.config.DATABASE_URL });
    await db.connect();
    try {
      await db.query('UPDATE instances SET object_key = $1 WHERE id = $2', [legacyKey, id]);
    } finally {
      await db.end();
    }
  }

  it('reads them where they are, and does not store them twice when they are uploaded again', async () => {
    const [file] = generateSyntheticStudy({ instances: 1, imageSize: 16, seed: 41 });
    const uploaded = await http(api.baseUrl, 'POST', '/instances', Buffer.from(file.bytes));
    expect(uploaded.status).toBe(200);
    const id: string = uploaded.body.ID;
    await asEarlierVersionStoredIt(id);

    expect((await http(api.baseUrl, 'GET', `/instances/${id}/file`)).bytes.equals(Buffer.from(file.bytes))).toBe(true);
    const again = await http(api.baseUrl, 'POST', '/instances', Buffer.from(file.bytes));
    expect(again).toMatchObject({ status: 200, body: { ID: id, Status: 'AlreadyStored' } });
    // Nothing left under today's key: the index points to the earlier copy, which is still served.
    const currentDirectory = dirname(join(api.config.STORAGE_DIR, objectKeyForInstance(id)));
    expect(await readdir(currentDirectory)).toEqual([]);
    expect((await http(api.baseUrl, 'GET', `/instances/${id}/file`)).bytes.equals(Buffer.from(file.bytes))).toBe(true);
  });
});
