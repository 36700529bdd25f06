/**
 * A value serialized as JSON already, answered as it is (see the API's sendJson and jsonArrayStream).
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/**
 * JSON written a piece at a time, for an answer that holds a long list read in pages (a bulk job's
 * new resources): the pieces, joined, are the JSON text.
 */
export class JsonPieces {
  constructor(readonly pieces: AsyncIterable<string>) {}
}

/** An answer's JSON, whole or in pieces. */
export type JsonAnswer = JsonText | JsonPieces;
