import { Module } from '@nestjs/common';
import { AppConfigModule } from '@deidflow/config';
import { CoreModule } from '@deidflow/core';
import { DatabaseModule } from '@deidflow/database';
import { JobsModule } from '@deidflow/jobs';
import { QueueModule } from '@deidflow/queue';
import { StorageModule } from '@deidflow/storage';
import { WorkerMetricsServer } from './metrics/metrics-server';
import { WorkerModule } from './worker.module';

/** The worker process: the shared infrastructure plus the processors (and their metrics endpoint). */
@Module({
  imports: [AppConfigModule.forRoot(), DatabaseModule, StorageModule, QueueModule, CoreModule, JobsModule, WorkerModule],
  providers: [WorkerMetricsServer],
})
export class WorkerProcessModule {}
