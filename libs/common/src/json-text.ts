/**
 * A value serialized as JSON already, answered as it is: what Postgres gives as text need not be
 * parsed into objects only to be serialized again (see the API's sendJson and jsonArrayStream).
 */
export class JsonText {
  constructor(readonly text: string) {}
}
