import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OrthancError } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { assertId } from '../resources/browse.service';
import { UploadService } from './upload.service';

@ApiTags('Instances')
@Controller('instances')
export class InstancesController {
  constructor(
    private readonly uploads: UploadService,
    private readonly store: InstanceStoreService,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiConsumes('application/dicom', 'application/zip')
  @ApiBody({ description: 'A DICOM file, or a ZIP archive of DICOM files', schema: { type: 'string', format: 'binary' } })
  upload(@Body() body: Buffer | undefined) {
    if (!body || body.length === 0) throw OrthancError.badFileFormat('Cannot parse an invalid DICOM file (size: 0 bytes)');
    return this.uploads.upload(body);
  }

  /** The stored file, streamed from the object store. */
  @Get(':id/file')
  async file(@Param('id') id: string, @Res() reply: FastifyReply) {
    assertId(id);
    const instance = await this.store.findInstanceOrThrow(id);
    const stream = await this.store.readStream(instance);
    return reply
      .header('content-type', 'application/dicom')
      .header('content-length', String(instance.fileSize))
      .header('content-disposition', `attachment; filename="${id}.dcm"`)
      .send(stream);
  }
}
