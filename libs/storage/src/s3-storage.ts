import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { type BucketItem, Client } from 'minio';
import { Allocate, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { assertValidObjectKey } from './object-key';
import {
  inexistentObject,
  isInexistentObject,
  existsByStat,
  streamSizeMismatch,
  type ObjectStat,
  type ObjectStorage,
} from './object-storage';
import { readParts } from './read-chunks';

export interface S3StorageOptions {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  /** `http://host/bucket/key` addressing, which MinIO and most self-hosted servers need. */
  pathStyle?: boolean;
  /** Streams larger than this go up as a multipart upload of parts this big (S3 minimum: 5 MiB). */
  partSize?: number;
  /** A request whose socket stays silent this long fails (instead of hanging a worker forever). */
  idleTimeoutMs?: number;
}

const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound']);
const FULL_CODES = new Set(['XMinioStorageFull', 'QuotaExceeded']);
// The endpoint unreachable, cut or silent, or saying it is overloaded: worth trying again later (503).
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'ServiceUnavailable', 'SlowDown', 'RequestTimeout', 'XMinioServerNotInitialized',
]);

/**
 * Objects in an S3-compatible bucket (MinIO, AWS S3, ...). S3 itself makes every PUT atomic;
 * streams too large for one part go up as a multipart upload that becomes visible only on
 * completion and is aborted on failure. The client's own retries are off: a failure reaches
 * the caller (as a 5xx OrthancError) and the job queue decides when to try again.
 */
export class S3Storage implements ObjectStorage {
  readonly driver = 's3' as const;
  readonly bucket: string;
  private readonly client: Client;
  private readonly region: string;
  private readonly partSize: number;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.region = options.region;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region,
      pathStyle: options.pathStyle ?? true,
      transport: idleTimeoutTransport(options.useSSL, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
      retryOptions: { disableRetry: true },
    });
  }

  async init(): Promise<void> {
    if (await this.call('check the bucket', () => this.client.bucketExists(this.bucket))) return;
    try {
      await this.client.makeBucket(this.bucket, this.region);
    } catch (err) {
      // Several processes start at once: another one may have created it meanwhile.
      if (!(await this.call('check the bucket', () => this.client.bucketExists(this.bucket)))) {
        throw s3Error(err, 'create the bucket', this.bucket);
      }
    }
  }

  async put(key: string, data: Buffer, sha256?: string): Promise<void> {
    assertValidObjectKey(key);
    await this.call('write', () => this.upload(key, data, sha256), key);
  }

  /**
   * A HEAD first (an object already there is not uploaded again), then a conditional PUT
   * (`If-None-Match: *`): MinIO and S3 refuse it with 412 PreconditionFailed when another writer
   * created the object meanwhile, which makes the check atomic there. A server without conditional
   * writes (s3rver, the tests' double) overwrites, as a plain PUT would.
   */
  async putIfAbsent(key: string, data: Buffer, sha256?: string): Promise<boolean> {
    if (await this.exists(key)) return false;
    assertValidObjectKey(key);
    return this.call(
      'write',
      () =>
        this.upload(key, data, sha256, { 'If-None-Match': '*' }).then(
          () => true,
          (err: { code?: string }) => {
            if (err.code === 'PreconditionFailed') return false;
            throw err;
          },
        ),
      key,
    );
  }

  async putStream(key: string, stream: Readable, size?: number): Promise<void> {
    assertValidObjectKey(key);
    const parts = readParts(stream, this.partSize, key);
    const first = await parts.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    if (head.length < this.partSize) {
      // A short first part is the whole stream: one plain PUT.
      checkSize(key, size, head.length);
      return this.put(key, head);
    }
    await this.putMultipart(key, head, parts, size);
  }

  async get(key: string, allocate?: Allocate): Promise<Buffer> {
    const stream = await this.getStream(key);
    const length = Number((stream as Readable & { headers?: Record<string, string | undefined> }).headers?.['content-length']);
    if (!allocate || !Number.isSafeInteger(length) || length <= 0) return this.call('read', () => buffer(stream), key);
    // The announced length: read straight into the given memory.
    return this.call('read', () => readInto(stream, allocate(length), key), key);
  }

  async getStream(key: string): Promise<Readable> {
    assertValidObjectKey(key);
    return this.call('read', () => this.client.getObject(this.bucket, key), key);
  }

  async stat(key: string): Promise<ObjectStat> {
    assertValidObjectKey(key);
    const info = await this.call('stat', () => this.client.statObject(this.bucket, key), key);
    return { key, size: info.size, modifiedAt: info.lastModified, etag: info.etag || undefined };
  }

  async *list(prefix: string): AsyncIterable<ObjectStat> {
    const listing = this.client.listObjectsV2(this.bucket, prefix, true);
    try {
      for await (const item of listing as AsyncIterable<BucketItem>) {
        // Recursive: no common prefixes, objects only.
        if (item.name !== undefined) yield { key: item.name, size: item.size, modifiedAt: item.lastModified, etag: item.etag || undefined };
      }
    } catch (err) {
      throw s3Error(err, 'list the objects of', `${this.bucket}/${prefix}`);
    } finally {
      listing.destroy();
    }
  }

  async exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
  }

  async delete(key: string): Promise<void> {
    assertValidObjectKey(key);
    try {
      await this.call('delete', () => this.client.removeObject(this.bucket, key), key);
    } catch (err) {
      if (!isInexistentObject(err)) throw err;
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    keys.forEach(assertValidObjectKey);
    if (keys.length === 0) return;
    const results = await this.call('delete objects in', () => this.client.removeObjects(this.bucket, keys));
    const failures = results.filter((r) => r?.Error && !NOT_FOUND_CODES.has(r.Error.Code ?? ''));
    if (failures.length > 0) {
      const first = failures[0]?.Error;
      throw new OrthancError(
        OrthancErrorCode.InternalError,
        `S3 storage could not delete ${failures.length} of ${keys.length} objects ` +
          `(first: ${first?.Key}: ${first?.Code})`,
      );
    }
  }

  async ping(): Promise<void> {
    if (!(await this.call('check the bucket', () => this.client.bucketExists(this.bucket)))) {
      throw new OrthancError(OrthancErrorCode.InternalError, `S3 bucket ${this.bucket} does not exist`);
    }
  }

  /**
   * One PUT of the whole object. The client's putObject would hash the bytes twice more (MD5 for
   * Content-MD5, which it always computes, and SHA-256 to sign the payload over http): 31% of a
   * worker's busy time against S3, measured. Here the caller's SHA-256 signs the payload (http) and
   * goes in x-amz-checksum-sha256, which S3 and MinIO check against the bytes received (http and
   * https alike).
   */
  private async upload(key: string, data: Buffer, sha256 = createHash('sha256').update(data).digest('hex'), headers: Record<string, string> = {}): Promise<void> {
    const response = await this.client.makeRequestStreamAsync(
      {
        method: 'PUT',
        bucketName: this.bucket,
        objectName: key,
        headers: { ...headers, 'Content-Length': data.length, 'x-amz-checksum-sha256': Buffer.from(sha256, 'hex').toString('base64') },
      },
      data,
      this.client.enableSHA256 ? sha256 : '',
      [200],
      '',
    );
    // The answer's body (empty on success) is read so that the socket goes back to the pool.
    response.resume();
    await finished(response);
  }

  private async putMultipart(key: string, head: Buffer, rest: AsyncIterable<Buffer>, size?: number): Promise<void> {
    const uploadId = await this.call('start the upload of', () =>
      this.client.initiateNewMultipartUpload(this.bucket, key, {}),
    );
    try {
      const etags = [{ part: 1, etag: await this.uploadPart(key, uploadId, 1, head) }];
      let total = head.length;
      for await (const part of rest) {
        etags.push({ part: etags.length + 1, etag: await this.uploadPart(key, uploadId, etags.length + 1, part) });
        total += part.length;
      }
      checkSize(key, size, total);
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
    } catch (err) {
      // Best effort: a bucket lifecycle rule should reap uploads left behind by a crash anyway.
      await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => undefined);
      throw s3Error(err, 'write', key);
    }
  }

  private async uploadPart(key: string, uploadId: string, partNumber: number, data: Buffer): Promise<string> {
    const response = await this.client.makeRequestAsyncOmit(
      {
        method: 'PUT',
        bucketName: this.bucket,
        objectName: key,
        query: `partNumber=${partNumber}&uploadId=${encodeURIComponent(uploadId)}`,
        headers: { 'Content-Length': data.length, 'Content-MD5': createHash('md5').update(data).digest('base64') },
      },
      data,
    );
    return String(response.headers.etag ?? '').replace(/"/g, '');
  }

  /** Runs one client call, turning its failure into an OrthancError. */
  private async call<T>(operation: string, run: () => Promise<T>, key?: string): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw s3Error(err, operation, key ?? this.bucket, key);
    }
  }
}

/**
 * Reads an answer of `target.length` bytes into `target`. Another length is a transport fault (a
 * cut connection), not bad input: a 5xx error, so that the caller may try again.
 */
async function readInto(stream: Readable, target: Buffer, key: string): Promise<Buffer> {
  let offset = 0;
  const cut = (received: number) =>
    new OrthancError(OrthancErrorCode.InternalError, `S3 storage cannot read ${key}: ${received} bytes received, ${target.length} announced`);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (offset + chunk.length > target.length) throw cut(offset + chunk.length);
    chunk.copy(target, offset);
    offset += chunk.length;
  }
  if (offset !== target.length) throw cut(offset);
  return target;
}

function checkSize(key: string, expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) throw streamSizeMismatch(key, expected, actual);
}

/** `key` is set for object reads, where "not found" means a missing object. */
function s3Error(err: unknown, operation: string, subject: string, key?: string): OrthancError {
  if (err instanceof OrthancError) return err;
  const { code, message } = err as { code?: string; message?: string };
  if (key !== undefined && code !== undefined && NOT_FOUND_CODES.has(code)) return inexistentObject(key);
  if (code !== undefined && FULL_CODES.has(code)) {
    return new OrthancError(OrthancErrorCode.FullStorage, `S3 storage cannot ${operation} ${subject}: ${code}`);
  }
  // Orthanc has no code of its own for an unavailable storage area: its internal error, but 503.
  return new OrthancError(
    OrthancErrorCode.InternalError,
    `S3 storage cannot ${operation} ${subject}: ${code ?? 'error'}: ${(message ?? '').slice(0, 200)}`,
    code !== undefined && UNAVAILABLE_CODES.has(code) ? 503 : undefined,
  );
}

/** Node's requests never time out by themselves; a silent socket is destroyed after `timeoutMs`. */
function idleTimeoutTransport(useSSL: boolean, timeoutMs: number): { request: typeof http.request } {
  const base = useSSL ? https : http;
  const request = (options: http.RequestOptions, callback?: (response: http.IncomingMessage) => void) => {
    const req = base.request(options, callback);
    req.setTimeout(timeoutMs, () => {
      const error = Object.assign(new Error(`no data from the S3 endpoint for ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      req.destroy(error);
    });
    return req;
  };
  return { request: request as typeof http.request };
}
