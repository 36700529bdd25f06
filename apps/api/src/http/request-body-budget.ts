import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { MemoryBudget } from '@deidflow/common';

/**
 * The memory that request bodies being received may take at once (HTTP_BODIES_MEMORY_LIMIT). Bodies
 * are read whole into memory (a DICOM file is parsed whole, as Orthanc does), so without a bound 30
 * uploads of 100 MB at once took the API to 3.4 GB: enough clients, or big enough files, and the
 * process is killed. A body whose length is announced reserves it before its first byte is read;
 * when the budget is spent, it waits with its socket unread (TCP slows the client down). An
 * instance-level anonymize or modify holds two whole files (its source and its answer): it
 * reserves them here too (ModificationController, through reserveForAnswer).
 */
export class RequestBodyBudget extends MemoryBudget {
  /**
   * Reserves `bytes` for the request answered by `response`, given back once the answer is done (or
   * its connection closed); false when the client went away first (nothing is reserved then).
   */
  async reserveForAnswer(response: ServerResponse, bytes: number): Promise<boolean> {
    if (response.destroyed) return false;
    const gone = new AbortController();
    const abort = () => gone.abort();
    response.once('close', abort);
    const reserved = await this.reserve(bytes, gone.signal);
    response.removeListener('close', abort);
    if (reserved === 0) return false;
    // 'close' comes once the answer is written, or when the connection closes before.
    if (response.destroyed) this.release(reserved);
    else response.once('close', () => this.release(reserved));
    return true;
  }
}

/**
 * Bodies below this are not counted: small JSON requests, whose bytes are no threat, never wait
 * behind an upload.
 */
export const COUNTED_FROM_BYTES = 64 * 1024;

/** Requests whose body comes without a length (chunked): what reserves its memory once the body parser has read COUNTED_FROM_BYTES of it. */
const unannouncedBodies = new WeakMap<IncomingMessage, () => Promise<boolean>>();

/**
 * For the body parser, once a body sent without a length has outgrown COUNTED_FROM_BYTES: waits
 * until the body limit (its length is unknown) is reserved for it. False when the client went away
 * meanwhile (nothing is reserved then).
 */
export function reserveUnannouncedBody(request: IncomingMessage): Promise<boolean> {
  return unannouncedBodies.get(request)?.() ?? Promise.resolve(true);
}

/**
 * Holds each request with a large body until `budget` has room for it, and gives the room back when
 * its answer is done (or its connection closed). A body whose length is announced reserves it before
 * it is read; a body sent without one (chunked) is read up to COUNTED_FROM_BYTES, so that a small one
 * never waits, and then reserves the body limit (pooledBodyParser asks, via reserveUnannouncedBody).
 */
export function limitRequestBodyMemory(fastify: FastifyInstance, budget: RequestBodyBudget, bodyLimit: number): void {
  fastify.addHook('preParsing', async (request, reply, payload) => {
    const response = reply.raw;
    if (request.headers['content-length'] === undefined) {
      if (request.headers['transfer-encoding'] !== undefined) unannouncedBodies.set(request.raw, () => budget.reserveForAnswer(response, bodyLimit));
      return payload;
    }
    const announced = Number(request.headers['content-length']);
    // Over the limit: the body parser refuses it without reading it.
    if (!Number.isSafeInteger(announced) || announced < COUNTED_FROM_BYTES || announced > bodyLimit) return payload;
    await budget.reserveForAnswer(response, announced);
    return payload;
  });
}
