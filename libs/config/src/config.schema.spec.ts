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
});

describe('.env.example', () => {
  it('documents every setting', () => {
    const example = readFileSync(join(__dirname, '../../../.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(CONFIG_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
  });
});
