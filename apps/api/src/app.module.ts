import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { APP_CONFIG, AppConfig, AppConfigModule } from '@deidflow/config';
import { CoreModule } from '@deidflow/core';
import { DatabaseModule } from '@deidflow/database';
import { JobsModule } from '@deidflow/jobs';
import { QueueModule } from '@deidflow/queue';
import { StorageModule } from '@deidflow/storage';
import { WorkerModule } from '../../worker/src/worker.module';
import { ChangesController } from './changes/changes.controller';
import { ChangeLogService } from './changes/change-log.service';
import { DicomServer } from './dicom/dicom-server';
import { ModalitiesController } from './modalities/modalities.controller';
import { ModalityService } from './modalities/modality.service';
import { HealthController } from './health/health.controller';
import { OrthancExceptionFilter } from './http/orthanc-exception.filter';
import { RequestBodyBudget } from './http/request-body-budget';
import { InstanceContentService } from './instances/instance-content.service';
import { AttachmentsController } from './instances/attachments.controller';
import { InstancesController } from './instances/instances.controller';
import { JobsController } from './jobs/jobs.controller';
import { FindService } from './tools/find.service';
import { ArchiveController } from './resources/archive.controller';
import { ArchiveService } from './resources/archive.service';
import { IntegrityService } from './resources/integrity.service';
import { ModificationController } from './modification/modification.controller';
import { ModificationService } from './modification/modification.service';
import { UploadService } from './instances/upload.service';
import { BrowseService } from './resources/browse.service';
import { LineageService } from './resources/lineage.service';
import { LabelService } from './resources/label.service';
import { MetadataService } from './resources/metadata.service';
import { ResourcesController } from './resources/resources.controller';
import { MetricsService } from './system/metrics.service';
import { SystemController } from './system/system.controller';
import { BulkDeleteService } from './tools/bulk-delete.service';
import { CreateDicomService } from './tools/create-dicom.service';
import { ToolsController } from './tools/tools.controller';

@Module({})
export class AppModule {
  /** With EMBEDDED_WORKER, BullMQ processors run in this process too (the single-process default). */
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        DatabaseModule,
        StorageModule,
        QueueModule,
        CoreModule,
        JobsModule,
        TerminusModule,
        ...(config.EMBEDDED_WORKER ? [WorkerModule] : []),
      ],
      // Order matters: static routes of InstancesController before the generic ones.
      controllers: [InstancesController, AttachmentsController, ArchiveController, ModificationController, ChangesController, ModalitiesController, ResourcesController, JobsController, SystemController, HealthController, ToolsController],
      providers: [BrowseService, ChangeLogService, ModalityService, MetadataService, LabelService, MetricsService, UploadService, ModificationService, InstanceContentService, LineageService, CreateDicomService, BulkDeleteService, FindService, ArchiveService, IntegrityService,
        { provide: APP_FILTER, useClass: OrthancExceptionFilter },
        { provide: RequestBodyBudget, useFactory: (c: AppConfig) => new RequestBodyBudget(c.HTTP_BODIES_MEMORY_LIMIT), inject: [APP_CONFIG] },
        ...(config.DICOM_SERVER_ENABLED ? [DicomServer] : []),
      ],
    };
  }
}
