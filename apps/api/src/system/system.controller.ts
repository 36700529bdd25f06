import { Body, Controller, Delete, Get, HttpCode, Inject, Optional, Post, Put, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import {
  ORTHANC_COMPATIBLE_API_VERSION,
  ORTHANC_COMPATIBLE_VERSION,
  OrthancError,
  OrthancErrorCode,
  PRODUCT_NAME,
  PRODUCT_VERSION,
} from '@deidflow/common';
import type { FastifyReply } from 'fastify';
import { DicomServer } from '../dicom/dicom-server';
import { BrowseService } from '../resources/browse.service';
import { MetricsService } from './metrics.service';

@ApiTags('System')
@Controller()
export class SystemController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly browse: BrowseService,
    private readonly metrics: MetricsService,
    /** Absent with DICOM_SERVER_ENABLED=false. */
    @Optional() private readonly dicom?: DicomServer,
  ) {}

  @Get('system')
  system() {
    return {
      ApiVersion: ORTHANC_COMPATIBLE_API_VERSION,
      // Orthanc >= 1.12.5 tells clients what its database backend supports (Orthanc Explorer 2 reads
      // HasExtendedChanges before it lists the latest studies with GET /changes?to=&type=).
      Capabilities: {
        HasExtendedChanges: true,
        HasExtendedFind: false,
        HasKeyValueStores: false,
        HasQueues: false,
        HasReserveQueueValue: false,
      },
      CheckRevisions: false,
      DatabaseBackendPlugin: null,
      DatabaseVersion: 6,
      DicomAet: this.config.DICOM_AET,
      DicomPort: this.dicom?.port ?? 0,
      HasLabels: true,
      HttpPort: this.config.HTTP_PORT,
      IsHttpServerSecure: this.config.AUTHENTICATION_ENABLED ?? false,
      Name: this.config.SERVER_NAME,
      PluginsEnabled: false,
      Product: PRODUCT_NAME,
      ProductVersion: PRODUCT_VERSION,
      ReadOnly: false,
      StorageAreaPlugin: null,
      StorageDriver: this.config.STORAGE_DRIVER,
      UserMetadata: this.config.USER_METADATA,
      Version: ORTHANC_COMPATIBLE_VERSION,
    };
  }

  @Get('statistics')
  statistics() {
    return this.browse.statistics();
  }

  /** Orthanc's Prometheus endpoint (see MetricsService). */
  @Get('tools/metrics-prometheus')
  async metricsPrometheus(@Res() reply: FastifyReply) {
    return reply.header('content-type', this.metrics.contentType).send(await this.metrics.metrics());
  }

  /** Whether metrics are collected: always, in DeidFlow (Orthanc's `PUT` to switch them off is not offered). */
  @Get('tools/metrics')
  metricsEnabled() {
    return true;
  }

  // Set-up calls that Orthanc clients and orthanc-tests' harness make: harmless answers.
  @Get('peers')
  peers() {
    return [];
  }

  @Delete('exports')
  clearExports() {
    return {};
  }

  @Put('tools/default-encoding')
  defaultEncoding(@Body() body: Buffer | undefined) {
    return (body ?? Buffer.alloc(0)).toString('utf8').trim() || 'Latin1';
  }

  @Put('tools/accepted-transfer-syntaxes')
  acceptedTransferSyntaxes() {
    return {};
  }

  @Put('tools/unknown-sop-class-accepted')
  unknownSopClassAccepted() {
    return {};
  }

  @Post('tools/execute-script')
  @HttpCode(400)
  executeScript(): never {
    throw new OrthancError(OrthancErrorCode.NotImplemented, 'Lua scripts are not supported by DeidFlow', 400);
  }
}
