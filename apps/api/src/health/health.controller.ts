import { Controller, Get, Inject, Logger } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { PrismaService } from '@deidflow/database';
import { QueueName } from '@deidflow/queue';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';

/** Liveness of the three services DeidFlow needs: Postgres, Redis and the object store. */
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
  check() {
    return this.health.check([
      () => this.probe('postgres', () => this.prisma.$queryRaw`SELECT 1`),
      () => this.probe('redis', () => this.queue.getJobCounts('waiting')),
      () => this.probe('storage', () => this.storage.ping()),
    ]);
  }

  private async probe(name: string, action: () => Promise<unknown>) {
    const indicator = this.indicator.check(name);
    try {
      await action();
      return indicator.up();
    } catch (err) {
      // The reason goes to the log only: it may name hosts, ports or paths.
      this.logger.warn({ service: name, err: (err as Error).message }, 'health check failed');
      return indicator.down({ message: 'unreachable' });
    }
  }
}
