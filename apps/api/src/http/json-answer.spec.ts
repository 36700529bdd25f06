import { text } from 'node:stream/consumers';
import { JsonPieces, JsonText } from '@deidflow/common';
import { jsonArrayStream } from './json-answer';

async function* pagesOf<T>(pages: T[][], failAt?: number): AsyncGenerator<T[]> {
  for (const [i, page] of pages.entries()) {
    if (i === failAt) throw new Error('the database went away');
    yield page;
  }
  if (failAt === pages.length) throw new Error('the database went away');
}

describe('jsonArrayStream', () => {
  it.each([
    ['no page', []],
    ['one empty page', [[]]],
    ['one page', [[{ ID: 'a', Content: { Resources: [] } }]]],
    ['pages, some empty', [[1, 'two'], [], [{ three: [3] }], [null, 'quote " and \\ and \u00e9']]],
  ])('writes what JSON.stringify of the whole array gives: %s', async (_name, pages: unknown[][]) => {
    const written = await text(await jsonArrayStream(pagesOf(pages)));
    expect(written).toBe(JSON.stringify(pages.flat()));
    expect(JSON.parse(written)).toEqual(pages.flat());
  });

  it('writes JSON text as it is, and JSON in pieces piece by piece', async () => {
    async function* pieces() {
      yield '{"b": [';
      yield '1, 2]}';
    }
    const written = await text(await jsonArrayStream(pagesOf<unknown>([[new JsonText('{"a": [1, 2]}'), 'b'], [new JsonPieces(pieces()), 3]])));
    expect(written).toBe('[{"a": [1, 2]},"b",{"b": [1, 2]},3]');
  });

  it('fails before answering when the first page cannot be read', async () => {
    await expect(jsonArrayStream(pagesOf([[1]], 0))).rejects.toThrow('the database went away');
  });

  it('ends the stream with the error when a later page cannot be read (the answer is cut short)', async () => {
    const stream = await jsonArrayStream(pagesOf([[1], [2]], 2));
    await expect(text(stream)).rejects.toThrow('the database went away');
  });
});
