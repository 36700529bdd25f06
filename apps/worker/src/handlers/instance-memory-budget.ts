import { Inject, Injectable } from '@nestjs/common';
import { MemoryBudget } from '@deidflow/common';
import { APP_CONFIG, type AppConfig } from '@deidflow/config';

/**
 * The memory the instances this worker process holds at once may take (WORKER_INSTANCES_MEMORY_LIMIT).
 * An instance is read whole and its result built whole, so WORKER_CONCURRENCY large multi-frame
 * files at once would take the process past its container's memory: killed, its tasks delivered
 * again to the next worker, which meets the same files.
 */
@Injectable()
export class InstanceMemoryBudget extends MemoryBudget {
  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'WORKER_INSTANCES_MEMORY_LIMIT'>) {
    super(config.WORKER_INSTANCES_MEMORY_LIMIT);
  }
}
