import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OrthancError, ResourceLevel } from '@deidflow/common';
import { parseJsonBody } from '../http/json-body';
import { ArchiveService } from './archive.service';
import { assertId } from './browse.service';
import { Level } from './resource-level.decorator';

/** Orthanc's ZIP downloads: one patient, study or series, or any set of resources. */
@ApiTags('Resources')
@Controller()
export class ArchiveController {
  constructor(private readonly archives: ArchiveService) {}

  @Get(['patients/:id/archive', 'studies/:id/archive', 'series/:id/archive'])
  @ApiOperation({
    summary: 'The instances as a ZIP, in Orthanc\'s folders (patient / study / series / CT000000.dcm), streamed',
  })
  async archive(@Level() level: ResourceLevel, @Param('id') id: string, @Res() reply: FastifyReply) {
    assertId(id);
    return sendZip(reply, `${id}.zip`, await this.archives.archive([{ level, id }]));
  }

  @Post('tools/create-archive')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A ZIP of several resources of any level: ["id", ...] or {"Resources": ["id", ...]}, answered synchronously',
  })
  async createArchive(@Body() body: Buffer, @Res() reply: FastifyReply) {
    const ids = resourceIds(parseJsonBody(body));
    ids.forEach(assertId);
    return sendZip(reply, 'Archive.zip', await this.archives.archive(await this.archives.levelsOf(ids)));
  }
}

function sendZip(reply: FastifyReply, filename: string, zip: NodeJS.ReadableStream): FastifyReply {
  return reply.header('content-type', 'application/zip').header('content-disposition', `attachment; filename="${filename}"`).send(zip);
}

/** Orthanc accepts the list itself, or an object with "Resources" (and options DeidFlow refuses clearly). */
function resourceIds(body: unknown): string[] {
  const request = Array.isArray(body) ? { Resources: body } : (body as Record<string, unknown>);
  if (typeof request !== 'object' || request === null) throw OrthancError.badRequest('Expected ["id", ...] or {"Resources": ["id", ...]}');
  for (const key of Object.keys(request)) {
    if (key === 'Asynchronous' && request[key] === true) throw OrthancError.badRequest('Asynchronous archives are not supported: the answer is the ZIP');
    if (key === 'Transcode') throw OrthancError.badRequest('"Transcode" is not supported: files are archived as stored');
    if (!['Resources', 'Synchronous', 'Asynchronous'].includes(key)) throw OrthancError.badRequest(`Unknown field: "${key}"`);
  }
  const ids = request.Resources;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string')) {
    throw OrthancError.badRequest('"Resources" must list at least one Orthanc ID');
  }
  return [...new Set(ids as string[])];
}
