import type { AppConfig } from '@deidflow/config';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { FsStorage } from './fs-storage';
import { INSTANCE_KEY_DIRECTORIES } from './object-key';
import type { ObjectStorage } from './object-storage';
import { S3Storage } from './s3-storage';

export interface S3Endpoint {
  endPoint: string;
  port: number;
  useSSL: boolean;
}

/** `http(s)://host[:port]` as the MinIO client wants it; a path prefix is not supported by S3 clients. */
export function parseS3Endpoint(endpoint: string): S3Endpoint {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidEndpoint('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidEndpoint('scheme must be http or https');
  if (url.pathname !== '/' || url.search || url.username) {
    throw invalidEndpoint('only scheme, host and port are allowed');
  }
  const useSSL = url.protocol === 'https:';
  return {
    endPoint: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
  };
}

export function createStorage(config: AppConfig): ObjectStorage {
  if (config.STORAGE_DRIVER === 'fs') {
    return new FsStorage(config.STORAGE_DIR, { syncIoMaxBytes: config.STORAGE_FS_SYNC_IO_MAX_BYTES, directories: INSTANCE_KEY_DIRECTORIES });
  }
  // The config schema guarantees these three once the driver is s3.
  if (!config.S3_ENDPOINT || !config.S3_ACCESS_KEY || !config.S3_SECRET_KEY) {
    throw new OrthancError(
      OrthancErrorCode.InternalError,
      'The s3 storage needs S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY',
    );
  }
  return new S3Storage({
    ...parseS3Endpoint(config.S3_ENDPOINT),
    accessKey: config.S3_ACCESS_KEY,
    secretKey: config.S3_SECRET_KEY,
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
  });
}

function invalidEndpoint(reason: string): OrthancError {
  return new OrthancError(OrthancErrorCode.InternalError, `Invalid S3_ENDPOINT: ${reason}`);
}
