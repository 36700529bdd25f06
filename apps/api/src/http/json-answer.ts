import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { JsonPieces, JsonText } from '@deidflow/common';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Serialized as JSON, unless it is JSON text already (JsonPieces are written piece by piece). */
function jsonOf(value: unknown): string {
  return value instanceof JsonText ? value.text : JSON.stringify(value);
}

/**
 * A JSON array written as its pages come, for lists that grow without bound (the jobs' history):
 * memory holds one page, not the whole answer; the text is what JSON.stringify of the whole array
 * gives. The first page is read before the answer starts, so that a failure to read at all (say,
 * Postgres unreachable) is still a proper error answer; a later failure can only cut the answer short.
 */
export async function jsonArrayStream(pages: AsyncIterable<readonly unknown[]>): Promise<Readable> {
  const iterator = pages[Symbol.asyncIterator]();
  const first = await iterator.next();
  return Readable.from(
    (async function* () {
      let separator = '[';
      for (let next = first; !next.done; next = await iterator.next()) {
        // A page's items in one string, but for those written in pieces.
        let text = '';
        for (const item of next.value) {
          text += separator;
          separator = ',';
          if (!(item instanceof JsonPieces)) {
            text += jsonOf(item);
            continue;
          }
          yield text;
          text = '';
          yield* item.pieces;
        }
        if (text) yield text;
      }
      yield separator === '[' ? '[]' : ']';
    })(),
    { objectMode: false },
  );
}

/** Answers with the JSON array of `pages`, streamed (see jsonArrayStream). */
export async function sendJsonArray(reply: FastifyReply, pages: AsyncIterable<readonly unknown[]>): Promise<FastifyReply> {
  return reply.type(JSON_TYPE).send(await jsonArrayStream(pages));
}

/** Answers with `value` as JSON: JsonText as it is, JsonPieces streamed. */
export function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  const body = value instanceof JsonPieces ? Readable.from(value.pieces, { objectMode: false }) : jsonOf(value);
  return reply.type(JSON_TYPE).send(body);
}
