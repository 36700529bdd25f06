import { Module } from '@nestjs/common';

/** BullMQ processors. Imported by apps/worker's own process, and by the API when EMBEDDED_WORKER. */
@Module({})
export class WorkerModule {}
