import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { QueueName } from './queue.contract';

/** Connects BullMQ to Redis and registers every queue of the contract. */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: { url: config.REDIS_URL, maxRetriesPerRequest: null },
        prefix: config.QUEUE_PREFIX,
        // Outcomes live in Postgres. A failed BullMQ job is removed too, so that recovery can enqueue
        // the same (deterministic) job ID again if its instance is still to do.
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
      }),
    }),
    BullModule.registerQueue({ name: QueueName.Modification }),
  ],
  exports: [BullModule],
})
export class QueueModule {}
