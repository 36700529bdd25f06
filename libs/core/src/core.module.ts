import { Global, Module } from '@nestjs/common';
import { InstanceStoreService } from './instance-store.service';

/** Domain services shared by the API and the workers. */
@Global()
@Module({
  providers: [InstanceStoreService],
  exports: [InstanceStoreService],
})
export class CoreModule {}
