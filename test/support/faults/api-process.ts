import { join } from 'node:path';
import { ChildService, startChildService } from './child-service';

const ROOT = join(__dirname, '../../..');
const API_ENTRY = join(ROOT, 'dist/apps/api/src/main.js');

export interface ApiProcess {
  readonly baseUrl: string;
  readonly process: ChildService;
}

/**
 * `node dist/apps/api/src/main.js` on a fixed loopback port (so that a restart answers at the same
 * address), ready once GET /system answers. `env` is a worker environment (see worker-process.ts):
 * the same database, Redis and storage. Build dist/ first (ensureWorkerBuild builds both apps).
 */
export async function startApiProcess(env: Record<string, string>, port: number): Promise<ApiProcess> {
  const baseUrl = `http://127.0.0.1:${port}`;
  const process = await startChildService(`API :${port}`, globalThis.process.execPath, [API_ENTRY], {
    cwd: ROOT,
    env: { ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), EMBEDDED_WORKER: 'false' },
    isReady: async () => (await fetch(`${baseUrl}/system`)).ok,
  });
  return { baseUrl, process };
}
