import { Agent, request } from 'node:http';

export interface HttpAnswer {
  status: number;
  body: Buffer;
}

/**
 * A keep-alive HTTP/1.1 client of the API, like a script talking to Orthanc: `sockets` bounds the
 * parallel connections. Every answer is read to its last byte before the call resolves.
 */
export class HttpClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  send(method: string, path: string, body?: Buffer | string, contentType = 'application/json'): Promise<HttpAnswer> {
    return this.exchange(method, path, body, contentType, Infinity);
  }

  /**
   * A file download read to its last byte without keeping it (only its first `keep` bytes): the
   * latency measured is the server's and the socket's, not the harness's allocations and GCs.
   */
  download(method: string, path: string, body?: string, keep = 132): Promise<HttpAnswer & { size: number }> {
    return this.exchange(method, path, body, 'application/json', keep);
  }

  /** One request; the answer is read to its last byte, its first `keep` bytes kept as `body`. */
  private exchange(
    method: string,
    path: string,
    body: Buffer | string | undefined,
    contentType: string,
    keep: number,
  ): Promise<HttpAnswer & { size: number }> {
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (body !== undefined) {
        headers['content-type'] = contentType;
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = request(url, { method, agent: this.agent, headers }, (res) => {
        const kept: Buffer[] = [];
        let keptBytes = 0;
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (keptBytes < keep) {
            const part = chunk.length <= keep - keptBytes ? chunk : chunk.subarray(0, keep - keptBytes);
            kept.push(part);
            keptBytes += part.length;
          }
          size += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(kept), size }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A JSON call that must succeed (2xx); anything else is a failed benchmark, reported with the answer. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    expectSuccess(method, path, answer);
    return (answer.body.length > 0 ? JSON.parse(answer.body.toString('utf8')) : undefined) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export function expectSuccess(method: string, path: string, answer: HttpAnswer): void {
  if (answer.status < 200 || answer.status >= 300) {
    throw new Error(`${method} ${path} answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 500)}`);
  }
}

/** Runs `work` over `items` with at most `limit` in flight, in order of start; resolves when all are done. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
