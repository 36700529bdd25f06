import { Controller, Delete, Get, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { queryInt } from '../http/json-body';
import { ChangeLogService } from './change-log.service';

/** Orthanc's change log: what scripts poll to act on new and stable resources (e.g. anonymize each StableStudy). */
@ApiTags('Changes')
@Controller('changes')
export class ChangesController {
  constructor(private readonly changeLog: ChangeLogService) {}

  @Get()
  @ApiOperation({ summary: 'Changes after `since` (default 0), `limit` at most (default 100, at most 10,000); `last`: the newest alone' })
  async list(@Query() query: Record<string, unknown>) {
    if ('last' in query) return this.changeLog.newest();
    return this.changeLog.page(queryInt(query, 'since'), queryInt(query, 'limit'));
  }

  /** Empties the log, as Orthanc (an empty text/plain answer); Seq goes on from where it was. */
  @Delete()
  async clear(@Res() reply: FastifyReply) {
    await this.changeLog.clear();
    return reply.type('text/plain').send('');
  }
}
