import { loadConfig } from '@deidflow/config';
import { createStorage, parseS3Endpoint } from './create-storage';
import { FsStorage } from './fs-storage';
import { S3Storage } from './s3-storage';

describe('parseS3Endpoint', () => {
  it.each([
    ['http://127.0.0.1:9000', { endPoint: '127.0.0.1', port: 9000, useSSL: false }],
    ['https://s3.eu-west-1.amazonaws.com', { endPoint: 's3.eu-west-1.amazonaws.com', port: 443, useSSL: true }],
    ['http://minio/', { endPoint: 'minio', port: 80, useSSL: false }],
    ['http://[::1]:9000', { endPoint: '::1', port: 9000, useSSL: false }],
  ])('parses %s', (endpoint, expected) => {
    expect(parseS3Endpoint(endpoint)).toEqual(expected);
  });

  it.each(['ftp://host', 'http://host/prefix', 'http://user:pw@host', 'host:9000'])('refuses %s', (endpoint) => {
    expect(() => parseS3Endpoint(endpoint)).toThrow(/Invalid S3_ENDPOINT/);
  });
});

describe('createStorage', () => {
  it('builds the filesystem driver by default', () => {
    const storage = createStorage(loadConfig({ STORAGE_DIR: '/tmp/deidflow-x' }));
    expect(storage).toBeInstanceOf(FsStorage);
    expect((storage as FsStorage).root).toBe('/tmp/deidflow-x');
  });

  it('builds the s3 driver when an endpoint is configured', () => {
    const storage = createStorage(
      loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_BUCKET: 'dicom' }),
    );
    expect(storage).toBeInstanceOf(S3Storage);
    expect(storage.driver).toBe('s3');
    expect((storage as S3Storage).bucket).toBe('dicom');
  });
});
