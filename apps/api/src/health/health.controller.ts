import { Controller, Get, Inject, Logger, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { FastifyReply } from 'fastify';
import { settlesWithin } from '@deidflow/common';
import { PrismaService } from '@deidflow/database';
import { QueueName } from '@deidflow/queue';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';

/**
 * How long a service may take to answer a probe (this health check, the metrics scrape's figures).
 * A stopped Redis does not refuse BullMQ's commands: they wait for it to come back (workers must
 * outlive a Redis restart), and a hung Postgres holds a statement for DATABASE_STATEMENT_TIMEOUT_MS,
 * so an unbounded probe would hang rather than say what is down.
 */
export const HEALTH_PROBE_TIMEOUT_MS = 2000;

/**
 * Liveness of the three services DeidFlow needs: Postgres, Redis and the object store. 200 when all
 * answer; 503 with Terminus' body naming the one down otherwise (not Orthanc's error shape: this is
 * not an Orthanc route, and a monitor wants to know which).
 */
@ApiTags('System')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger(HealthController.name);

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  @Get()
  @HealthCheck()
  async check(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check([
        () => this.probe('postgres', () => this.prisma.$queryRaw`SELECT 1`),
        () => this.probe('redis', () => this.queue.getJobCounts('waiting')),
        () => this.probe('storage', () => this.storage.ping()),
      ]);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      reply.status(503);
      return err.getResponse();
    }
  }

  private async probe(name: string, action: () => Promise<unknown>) {
    const indicator = this.indicator.check(name);
    try {
      if (!(await settlesWithin(action(), HEALTH_PROBE_TIMEOUT_MS))) throw new Error(`no answer within ${HEALTH_PROBE_TIMEOUT_MS} ms`);
      return indicator.up();
    } catch (err) {
      // The reason goes to the log only: it may name hosts, ports or paths.
      this.logger.warn({ service: name, err: (err as Error).message }, 'health check failed');
      return indicator.down({ message: 'unreachable' });
    }
  }
}
