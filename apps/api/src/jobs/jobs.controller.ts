import { Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OrthancError } from '@deidflow/common';
import { JobControlService } from '@deidflow/jobs';
import { sendJson, sendJsonArray } from '../http/json-answer';
import { queryFlag } from '../http/json-body';

/** Orthanc's jobs API. Jobs live in Postgres: they survive restarts of the API and the workers. */
@ApiTags('Jobs')
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobControlService) {}

  /** The IDs, or with `expand` every job in full, streamed: the history is kept and can be long. */
  @Get()
  async list(@Query() query: Record<string, unknown>, @Res() reply: FastifyReply) {
    if (!queryFlag(query, 'expand')) return reply.send(await this.jobs.listIds());
    return sendJsonArray(reply, this.jobs.expandedPages());
  }

  @Get(':id')
  async get(@Param('id') id: string, @Res() reply: FastifyReply) {
    return sendJson(reply, await this.jobs.get(id));
  }

  @Delete(':id')
  async delete(@Param('id') id: string) {
    await this.jobs.delete(id);
    return {};
  }

  @Post(':id/:action')
  @HttpCode(200)
  async action(@Param('id') id: string, @Param('action') action: string) {
    switch (action) {
      case 'cancel':
        await this.jobs.cancel(id);
        break;
      case 'pause':
        await this.jobs.pause(id);
        break;
      case 'resume':
        await this.jobs.resume(id);
        break;
      case 'resubmit':
        await this.jobs.resubmit(id);
        break;
      default:
        throw OrthancError.unknownResource();
    }
    return {};
  }
}
