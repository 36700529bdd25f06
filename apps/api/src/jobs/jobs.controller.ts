import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { OrthancError } from '@deidflow/common';
import { JobControlService } from '@deidflow/jobs';
import { queryFlag } from '../http/json-body';

/** Orthanc's jobs API. Jobs live in Postgres: they survive restarts of the API and the workers. */
@ApiTags('Jobs')
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobControlService) {}

  @Get()
  list(@Query() query: Record<string, unknown>) {
    return this.jobs.list(queryFlag(query, 'expand'));
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.jobs.get(id);
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
