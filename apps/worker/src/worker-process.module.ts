import { Module } from '@nestjs/common';
import { AppConfigModule } from '@deidflow/config';
import { CoreModule } from '@deidflow/core';
import { DatabaseModule } from '@deidflow/database';
import { JobsModule } from '@deidflow/jobs';
import { QueueModule } from '@deidflow/queue';
import { StorageModule } from '@deidflow/storage';
import { WorkerModule } from './worker.module';

/** The worker process: the shared infrastructure plus the processors. */
@Module({
  imports: [AppConfigModule.forRoot(), DatabaseModule, StorageModule, QueueModule, CoreModule, JobsModule, WorkerModule],
})
export class WorkerProcessModule {}
