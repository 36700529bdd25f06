import { Global, Module } from '@nestjs/common';
import { BufferPool } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { InstanceStoreService } from './instance-store.service';

const MiB = 1024 * 1024;

/** Domain services shared by the API and the workers. */
@Global()
@Module({
  providers: [
    InstanceStoreService,
    {
      // Memory for whole objects: uploads and instance-level answers in the API, sources and outputs
      // in a worker (two per instance in flight). Objects up to 4 MiB: a typical CT or MR slice.
      provide: BufferPool,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new BufferPool({ maxBytes: 4 * MiB, maxIdleBytes: Math.max(8, 2 * config.WORKER_CONCURRENCY) * MiB }),
    },
  ],
  exports: [InstanceStoreService, BufferPool],
})
export class CoreModule {}
