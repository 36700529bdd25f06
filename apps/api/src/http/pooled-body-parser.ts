import type { IncomingMessage } from 'node:http';
import { errorCodes, type FastifyRequest } from 'fastify';
import type { BufferPool } from '@deidflow/common';
import { COUNTED_FROM_BYTES, reserveUnannouncedBody } from './request-body-budget';

type Done = (err: Error | null, body?: Buffer) => void;

const POOLED_FROM_BYTES = 64 * 1024;

/**
 * Every body arrives raw (routes decide: DICOM, ZIP, or JSON whatever the Content-Type, as Orthanc).
 * Fastify's own raw parser, but a body whose Content-Length is announced and poolable is read
 * straight into BufferPool memory: one upload after another reuses the same pages instead of
 * allocating (and faulting in) a fresh half-megabyte each time, and the API's memory stays flat.
 * Whoever consumes such a body may hand it back with BufferPool.release() once done with it.
 * Limits and errors as Fastify's: 413 above the body limit, 400 when the length differs from the announced one.
 * A body that stops arriving for `idleTimeoutMs` is answered 408 and its connection closed: a client
 * that stalls mid-upload would otherwise hold its memory reservation (RequestBodyBudget), and the
 * API's shutdown, for ever. A body sent without a length stops being read once it outgrows
 * COUNTED_FROM_BYTES until its memory is reserved (waiting for memory is not the client's idleness).
 */
export function pooledBodyParser(pool: BufferPool, bodyLimit: number, idleTimeoutMs: number) {
  return (request: FastifyRequest, payload: IncomingMessage, done: Done): void => {
    const announced = Number(request.headers['content-length']);
    if (announced > bodyLimit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    const known = Number.isSafeInteger(announced) && announced > 0;
    // Small bodies (JSON requests) are not worth a pooled buffer of at least 64 KiB.
    const target = known && announced >= POOLED_FROM_BYTES && pool.holds(announced) ? pool.acquire(announced) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;

    // A body without a length reserves its memory once past COUNTED_FROM_BYTES (one with a length did before parsing).
    let memory: 'unreserved' | 'waiting' | 'settled' = known ? 'settled' : 'unreserved';
    const armIdleTimer = () =>
      setTimeout(() => {
        // 408 closes the connection with the answer (orthanc-exception.filter.ts): the rest is never read.
        finish(Object.assign(new Error(`No byte of the request body for ${idleTimeoutMs} ms`), { statusCode: 408 }));
      }, idleTimeoutMs);
    let idle = armIdleTimer();
    const finish = (err: Error | null, body?: Buffer) => {
      clearTimeout(idle);
      memory = 'settled'; // nothing to resume
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      done(err, body);
    };
    const onData = (chunk: Buffer | string) => {
      idle.refresh();
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (received + bytes.length > bodyLimit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      if (target) {
        if (received + bytes.length > target.length) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        bytes.copy(target, received);
      } else chunks.push(bytes);
      received += bytes.length;
      if (memory === 'unreserved' && received > COUNTED_FROM_BYTES) waitForMemory();
    };
    const waitForMemory = () => {
      memory = 'waiting';
      payload.pause();
      clearTimeout(idle);
      void reserveUnannouncedBody(request.raw).then((reserved) => {
        if (memory !== 'waiting') return; // finished meanwhile (an error)
        // The client went away while it waited: its connection is closed, nobody reads an answer.
        if (!reserved) return finish(Object.assign(new Error('The client went away while its body waited for memory'), { statusCode: 400 }));
        memory = 'settled';
        idle = armIdleTimer();
        payload.resume();
      });
    };
    const onEnd = () => {
      if (known && received !== announced) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      // Copied either way: the parser never hands on a view of the socket's read buffer.
      finish(null, target ?? Buffer.concat(chunks, received));
    };
    const onError = (err: Error & { statusCode?: number }) => {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      finish(err);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  };
}
