import type { Readable } from 'node:stream';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';

/** The stream's chunks as Buffers; a failure of the source becomes an OrthancError naming the object. */
export async function* readChunks(stream: Readable, key: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
  } catch (err) {
    if (err instanceof OrthancError) throw err;
    throw new OrthancError(
      OrthancErrorCode.InternalError,
      `Reading the data of object ${key} failed: ${(err as Error).message}`,
    );
  }
}

/**
 * Regroups the stream into parts of exactly `partSize` bytes, the last one shorter; an empty
 * stream gives one empty part. A part shorter than `partSize` is therefore always the last.
 */
export async function* readParts(stream: Readable, partSize: number, key: string): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let partsYielded = 0;
  for await (const chunk of readChunks(stream, key)) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= partSize) {
      const joined = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      const rest = joined.subarray(partSize);
      yield joined.subarray(0, partSize);
      partsYielded++;
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes > 0 || partsYielded === 0) yield Buffer.concat(pending, pendingBytes);
}
