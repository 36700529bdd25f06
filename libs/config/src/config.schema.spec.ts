import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_VARIABLES, loadConfig } from './config.schema';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.HTTP_PORT).toBe(8042);
    expect(c.STORAGE_DRIVER).toBe('fs');
    expect(c.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/deidflow');
  });

  it('picks the s3 driver when an endpoint is configured', () => {
    const c = loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' });
    expect(c.STORAGE_DRIVER).toBe('s3');
  });

  it('fails fast with every bad variable named', () => {
    expect(() => loadConfig({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud' })).toThrow(/HTTP_PORT[\s\S]*LOG_LEVEL/);
  });

  it('refuses the s3 driver without its endpoint and keys', () => {
    expect(() => loadConfig({ STORAGE_DRIVER: 's3' })).toThrow(/S3_ENDPOINT/);
  });

  it('refuses a shutdown timeout that leaves the worker no time to close', () => {
    expect(() => loadConfig({ WORKER_SHUTDOWN_GRACE_MS: '45000' })).toThrow(/SHUTDOWN_TIMEOUT_MS must be longer than WORKER_SHUTDOWN_GRACE_MS/);
    expect(loadConfig({ WORKER_SHUTDOWN_GRACE_MS: '45000', SHUTDOWN_TIMEOUT_MS: '55000' }).SHUTDOWN_TIMEOUT_MS).toBe(55_000);
  });

  it('reads USER_METADATA as Orthanc reads UserMetadata, and refuses what Orthanc refuses to start with', () => {
    expect(loadConfig({}).USER_METADATA).toEqual({});
    expect(loadConfig({ USER_METADATA: '{"Sample": 1024, "Batch": 65535}' }).USER_METADATA).toEqual({ Sample: 1024, Batch: 65535 });
    for (const [value, why] of [
      ['not json', /JSON object/],
      ['[1024]', /JSON object/],
      ['{"Low": 1023}', /"Low" must be a number from 1024 to 65535/],
      ['{"Text": "1024"}', /"Text" must be a number/],
      ['{"A": 1024, "B": 1024}', /1024 is given to two names/],
      ['{"ModifiedFrom": 1030}', /system metadata name/],
      ['{"1500": 1500}', /a number or a system metadata name/],
    ] as const) {
      expect(() => loadConfig({ USER_METADATA: value })).toThrow(why);
    }
  });

  it("reads DICOM_MODALITIES in Orthanc's two forms, with Orthanc's defaults, and refuses a bad entry with its reason", () => {
    expect(loadConfig({}).DICOM_MODALITIES).toEqual({});
    expect(loadConfig({ DICOM_MODALITIES: '' }).DICOM_MODALITIES).toEqual({});
    const modalities = loadConfig({
      DICOM_MODALITIES: JSON.stringify({
        pacs: ['PACS', '10.0.0.5', 104],
        ge: ['GE', 'ge.local', '4242', 'GE'],
        research: { AET: 'RESEARCH', Host: 'research', Port: 11112, LocalAet: 'DEID', Timeout: 30, AllowStorageCommitment: false, RetrieveMethod: 'C-MOVE' },
      }),
    }).DICOM_MODALITIES;
    expect(modalities.pacs).toMatchObject({ AET: 'PACS', Host: '10.0.0.5', Port: 104, Manufacturer: 'Generic', AllowStore: true, LocalAet: '', Timeout: 0 });
    expect(modalities.ge).toMatchObject({ Port: 4242, Manufacturer: 'GE' });
    expect(modalities.research).toMatchObject({ LocalAet: 'DEID', Timeout: 30, AllowNAction: false, AllowEventReport: false, AllowEcho: true });
    for (const [value, why] of [
      ['not json', /JSON object of modalities/],
      ['{"a": ["A", "h"]}', /modality "a": an array must be/],
      ['{"a": ["AE\\\\T", "h", 104]}', /"AET" must be 1 to 16/],
      ['{"a": ["A", "h", 70000]}', /"Port" must be a number from 1 to 65535/],
      ['{"a": {"AET": "A", "Host": "h"}}', /"Port" is missing/],
      ['{"a": {"AET": "A", "Host": "h", "Port": 1, "UseDicomTls": true}}', /not supported/],
      ['{"a/b": ["A", "h", 104]}', /its name must be/],
    ] as const) {
      expect(() => loadConfig({ DICOM_MODALITIES: value })).toThrow(why);
    }
  });
});

describe('.env.example', () => {
  it('documents every setting', () => {
    const example = readFileSync(join(__dirname, '../../../.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(CONFIG_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
  });
});
