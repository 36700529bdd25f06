import { Controller, Delete, Get, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ChangeType, changeTypeOfName, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { queryInt } from '../http/json-body';
import { ChangeLogService } from './change-log.service';

/** Orthanc's change log: what scripts poll to act on new and stable resources (e.g. anonymize each StableStudy). */
@ApiTags('Changes')
@Controller('changes')
export class ChangesController {
  constructor(private readonly changeLog: ChangeLogService) {}

  @Get()
  @ApiOperation({
    summary:
      'Changes after `since` (default 0), `limit` at most (default 100, at most 10,000); with `to` alone, the last ones up to it; ' +
      '`type`: names separated by `;` (or `all`); `last`: the newest alone',
  })
  async list(@Query() query: Record<string, unknown>) {
    // As Orthanc, the types are read first: `?last&type=Bogus` is refused too.
    const types = changeTypes(query.type);
    if ('last' in query) return this.changeLog.newest();
    return this.changeLog.page({ since: queryInt(query, 'since'), limit: queryInt(query, 'limit'), to: queryInt(query, 'to'), types });
  }

  /** Empties the log, as Orthanc (an empty text/plain answer); Seq goes on from where it was. */
  @Delete()
  async clear(@Res() reply: FastifyReply) {
    await this.changeLog.clear();
    return reply.type('text/plain').send('');
  }
}

/** Orthanc's `type` of GET /changes: names separated by `;`, exact spelling; `all` (or none): every type. */
function changeTypes(value: unknown): ChangeType[] | undefined {
  if (value === undefined || value === 'all' || value === 'All') return undefined;
  return [
    ...new Set(
      String(value)
        .split(';')
        .map((name) => {
          const type = changeTypeOfName(name);
          if (type === undefined) throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, `Invalid value for a change: ${name}`);
          return type;
        }),
    ),
  ];
}
