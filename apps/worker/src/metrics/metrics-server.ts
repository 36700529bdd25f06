import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics } from 'prom-client';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { WorkerMetrics } from './worker-metrics';

/**
 * A worker process has no API: when WORKER_METRICS_PORT is set, it answers Prometheus scrapes at
 * `GET /metrics` with its WorkerMetrics and its process figures (`deidflow_worker_*` defaults).
 * Figures only, no patient data; bound to WORKER_METRICS_HOST (loopback unless set).
 */
@Injectable()
export class WorkerMetricsServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WorkerMetricsServer.name);
  private server?: Server;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: WorkerMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.WORKER_METRICS_PORT === undefined) return;
    collectDefaultMetrics({ register: this.metrics.registry, prefix: 'deidflow_worker_' });
    const registry = this.metrics.registry;
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: scrape GET /metrics\n');
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.WORKER_METRICS_PORT, this.config.WORKER_METRICS_HOST, resolve);
    });
    server.removeAllListeners('error');
    // Once listening, a failure (say, of accept) must not end the worker: its jobs matter more.
    server.on('error', (err) => this.logger.warn({ err: err.message }, 'metrics endpoint error'));
    this.server = server;
    const { address, port } = server.address() as AddressInfo;
    this.logger.log({ host: address, port }, 'metrics served at /metrics');
  }

  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
