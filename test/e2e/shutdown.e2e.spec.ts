import { ClientRequest, get } from 'node:http';
import { connect, Socket } from 'node:net';
import { generateSyntheticStudy } from '../../libs/dicom/src/synthetic';
import { killAllChildServices } from '../support/faults/child-service';
import { withCleanup } from '../support/faults/cleanup';
import { startStack } from '../support/faults/stack';
import { resetDatabase, startApi, testConfig } from '../support/app-harness';
import { ensureWorkerBuild } from '../support/worker-process';

/**
 * A process asked to stop (SIGTERM) ends on its own, within SHUTDOWN_TIMEOUT_MS, whatever its
 * clients do: Fastify's graceful close waits for every request in flight, and a client that stalls
 * a download would otherwise hold the API until the orchestrator's SIGKILL. And the graceful close
 * itself does not wait for connections that never sent a request.
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

describe('the API\'s graceful close', () => {
  it('ends the connections that have not sent a request yet (a preconnect), instead of waiting 60-90 s for their headers timeout', async () => {
    await resetDatabase();
    const api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false' }));
    const { port } = new URL(api.baseUrl);
    const preconnected: Socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve, reject) => preconnected.once('connect', resolve).once('error', reject));
    const endedByServer = new Promise<void>((resolve) => preconnected.once('close', () => resolve()));
    preconnected.on('error', () => undefined); // a reset is an end too
    // One request on another connection, answered: the server is up and serving.
    expect((await fetch(`${api.baseUrl}/system`)).status).toBe(200);

    await api.close(); // before the change: ~70 s, past this test's timeout
    await endedByServer;
    expect(preconnected.bytesRead).toBe(0);
  }, 30_000);
});
