import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { BufferPool, OrthancError } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import type { TagsFormat } from '@deidflow/dicom';
import { queryFlag } from '../http/json-body';
import { assertId } from '../resources/browse.service';
import { InstanceContentService } from './instance-content.service';
import { sendInstanceFile } from './send-instance-file';
import { UploadService } from './upload.service';

@ApiTags('Instances')
@Controller('instances')
export class InstancesController {
  constructor(
    private readonly uploads: UploadService,
    private readonly store: InstanceStoreService,
    private readonly contents: InstanceContentService,
    private readonly buffers: BufferPool,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiConsumes('application/dicom', 'application/zip')
  @ApiBody({ description: 'A DICOM file, or a ZIP archive of DICOM files', schema: { type: 'string', format: 'binary' } })
  async upload(@Body() body: Buffer | undefined) {
    if (!body || body.length === 0) throw OrthancError.badFileFormat('Cannot parse an invalid DICOM file (size: 0 bytes)');
    try {
      return await this.uploads.upload(body);
    } finally {
      // Stored (or refused) and indexed: the body may be pooled memory (see pooledBodyParser).
      this.buffers.release(body);
    }
  }

  /** The stored file, streamed from the object store. */
  @Get(':id/file')
  async file(@Param('id') id: string, @Res() reply: FastifyReply) {
    assertId(id);
    return sendInstanceFile(this.store, await this.store.findInstanceOrThrow(id), reply);
  }

  @Get(':id/tags')
  @ApiOperation({ summary: 'The DICOM tags of the instance, in one of Orthanc\'s three JSON forms' })
  @ApiQuery({ name: 'simplify', required: false, description: 'Keys are tag names, values plain strings' })
  @ApiQuery({ name: 'short', required: false, description: 'Keys are "gggg,eeee", values plain strings' })
  tags(@Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.contents.tags(id, tagsFormat(query));
  }

  @Get(':id/simplified-tags')
  @ApiOperation({ summary: 'The DICOM tags of the instance, keyed by tag name (same as /tags?simplify)' })
  simplifiedTags(@Param('id') id: string) {
    return this.contents.tags(id, 'simplify');
  }

  @Get(':id/content')
  @ApiOperation({ summary: 'The tags of the top-level dataset, as "gggg-eeee"' })
  contentRoot(@Param('id') id: string, @Res() reply: FastifyReply) {
    return this.sendContent(id, [], reply);
  }

  @Get(':id/content/*')
  @ApiOperation({
    summary: 'Raw value of a tag',
    description:
      'The path alternates tags (name, "gggg-eeee" or "gggg,eeee") and item indexes, e.g. /0008-1140/1/0008-1150. ' +
      'A value answers its raw bytes (DICOM padding kept); a sequence the list of its item indexes; an item the list ' +
      'of its tags. A missing tag or item is a 404.',
  })
  @ApiParam({ name: '*', description: 'Path to the tag' })
  content(@Param('id') id: string, @Param('*') path: string, @Res() reply: FastifyReply) {
    return this.sendContent(id, pathSegments(path), reply);
  }

  private async sendContent(id: string, path: string[], reply: FastifyReply) {
    const result = await this.contents.content(id, path);
    if (result.kind === 'list') return reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(result.items));
    return reply.header('content-type', 'application/octet-stream').send(result.bytes);
  }
}

/** Orthanc's GetDicomFormat: `simplify` wins over `short`; the full form is the default. */
function tagsFormat(query: Record<string, unknown>): TagsFormat {
  if (queryFlag(query, 'simplify')) return 'simplify';
  if (queryFlag(query, 'short')) return 'short';
  return 'full';
}

/** Empty segments (a trailing slash) are dropped, as Orthanc's URI parser does. */
function pathSegments(path: string | undefined): string[] {
  return (path ?? '').split('/').filter((segment) => segment !== '');
}
