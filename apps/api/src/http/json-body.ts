import { OrthancError, OrthancErrorCode } from '@deidflow/common';

/**
 * Every route receives its body raw (see bootstrap.ts, pooledBodyParser): Orthanc accepts JSON whatever the Content-Type,
 * and curl's `-d` sends application/x-www-form-urlencoded. An empty body counts as `{}`.
 */
export function parseJsonBody(body: unknown): unknown {
  if (body === undefined || body === null) return {};
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : String(body);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new OrthancError(OrthancErrorCode.BadFileFormat, `The body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Boolean query flags in Orthanc's style: `?expand`, `?expand=true`, `?expand=1` are on; `false`/`0` off. */
export function queryFlag(query: Record<string, unknown>, name: string): boolean {
  if (!(name in query)) return false;
  const value = String(query[name] ?? '').toLowerCase();
  return value !== 'false' && value !== '0';
}

export function queryInt(query: Record<string, unknown>, name: string): number | undefined {
  if (!(name in query)) return undefined;
  const value = Number(query[name]);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, `"${name}" must be a non-negative integer`);
  }
  return value;
}
