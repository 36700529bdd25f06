import { Global, Module } from '@nestjs/common';
import { BufferPool } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { InstanceStoreService } from './instance-store.service';
import { OrphanObjectService } from './orphan-objects.service';
import { ResourceDeletionService } from './resource-deletion.service';

const MiB = 1024 * 1024;

/** Domain services shared by the API and the workers. */
@Global()
@Module({
  providers: [
    InstanceStoreService,
    ResourceDeletionService,
    OrphanObjectService,
    {
      // Memory for whole objects: uploads and instance-level answers in the API, sources and outputs
      // in a worker (two per instance in flight). Objects up to 4 MiB (a CT or MR slice): what is
      // kept idle grows with the concurrency up to 32 MiB: with 64 MiB at concurrency 32 the worker's
      // RSS crept up through a 10k job (189 -> 210 MB, 250-278 at its peak on s3), with 32 MiB it
      // stayed at 168-174 MB, at the same throughput (BENCHMARKS.md, ninth session). Larger objects
      // (multi-frame) up to the body limit; their free buffers are kept only where a worker runs
      // (ProcessInstanceHandler), let go after 30 s unused: a study of 33.5 MB files ran 5x faster.
      provide: BufferPool,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new BufferPool({ maxBytes: config.HTTP_BODY_LIMIT, maxIdleBytes: Math.min(32, Math.max(8, 2 * config.WORKER_CONCURRENCY)) * MiB }),
    },
  ],
  exports: [InstanceStoreService, ResourceDeletionService, OrphanObjectService, BufferPool],
})
export class CoreModule {}
