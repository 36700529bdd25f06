/** Small fetch wrappers for the e2e tests: status, parsed JSON and raw bytes. */
export interface HttpAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  bytes: Buffer;
}

export async function http<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  body?: Buffer | string | object,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const payload = body === undefined || Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`${baseUrl}${path}`, { method, body: payload as string | Buffer | undefined, headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  const isJson = (response.headers.get('content-type') ?? '').includes('json');
  return { status: response.status, headers: response.headers, bytes, body: (isJson ? JSON.parse(bytes.toString('utf8')) : bytes.toString('utf8')) as T };
}
