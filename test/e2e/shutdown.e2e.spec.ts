import { ClientRequest, get } from 'node:http';
import { generateSyntheticStudy } from '../../libs/dicom/src/synthetic';
import { killAllChildServices } from '../support/faults/child-service';
import { withCleanup } from '../support/faults/cleanup';
import { startStack } from '../support/faults/stack';
import { ensureWorkerBuild } from '../support/worker-process';

/**
 * A process asked to stop (SIGTERM) ends on its own, within SHUTDOWN_TIMEOUT_MS, whatever its
 * clients do: Fastify's graceful close waits for every request in flight, and a client that stalls
 * a download would otherwise hold the API until the orchestrator's SIGKILL.
 */

const SHUTDOWN_TIMEOUT_MS = 3000;
const KILL_AFTER_MS = 20_000;

/** GET `url`, read the answer's head, then nothing more: the sockets' buffers fill and the answer cannot end. */
function stalledDownload(url: string): Promise<{ request: ClientRequest; status: number }> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      response.pause();
      resolve({ request, status: response.statusCode ?? 0 });
    });
    request.on('error', reject);
  });
}

describe('an API asked to stop', () => {
  beforeAll(() => ensureWorkerBuild(), 300_000);
  afterAll(() => killAllChildServices());

  it('exits within SHUTDOWN_TIMEOUT_MS while a client stalls a download', () =>
    withCleanup(async (defer) => {
      const stack = await startStack({
        name: 'stalled-download',
        apiProcess: true,
        workers: 0,
        concurrency: 1,
        env: { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), WORKER_SHUTDOWN_GRACE_MS: '1000' },
      });
      defer(() => stack.stop());
      // 100 x 131 kB: more than the sockets' buffers hold.
      const { study } = await stack.client.upload(generateSyntheticStudy({ instances: 100, series: 1, imageSize: 256, seed: 41 }));
      const download = await stalledDownload(`${stack.baseUrl}/studies/${study}/archive`);
      defer(async () => download.request.destroy());
      expect(download.status).toBe(200);

      const started = Date.now();
      const { ended, output } = await stack.stopApi(KILL_AFTER_MS);
      const elapsed = Date.now() - started;
      expect(ended).toBe('SIGTERM'); // it exited on its own: not killed
      expect(output).toContain('shutdown did not finish in time');
      // The download was given its time first.
      expect(elapsed).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    }), 120_000);
});
