import { Body, Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { BufferPool, OrthancError, PATH_LEVEL } from '@deidflow/common';
import type { Operation } from '@deidflow/dicom';
import { sendJson } from '../http/json-answer';
import { RequestBodyBudget } from '../http/request-body-budget';
import { parseJsonBody } from '../http/json-body';
import { ModificationService } from './modification.service';

function operationOf(name: string): Operation {
  if (name === 'anonymize' || name === 'modify') return name;
  throw OrthancError.unknownResource();
}

@ApiTags('Anonymization and modification')
@Controller()
export class ModificationController {
  constructor(
    private readonly modification: ModificationService,
    private readonly buffers: BufferPool,
    private readonly memory: RequestBodyBudget,
  ) {}

  /** Instance level: the new DICOM file in the answer, nothing stored. */
  @Post('instances/:id/:operation')
  @HttpCode(200)
  async instance(@Param('id') id: string, @Param('operation') operation: string, @Body() body: Buffer, @Res() reply: FastifyReply) {
    // Within the memory of request bodies (HTTP_BODIES_MEMORY_LIMIT), held until the answer is done:
    // many calls on large files wait rather than grow the API.
    const reserve = (bytes: number) => this.memory.reserveForAnswer(reply.raw, bytes);
    const file = await this.modification.instanceFile(operationOf(operation), id, parseJsonBody(body), reserve);
    if (!file) return; // the client went away while the call waited for memory
    // Pooled memory: back to the pool once the whole answer is written (not on an aborted one).
    reply.raw.once('finish', () => this.buffers.release(file));
    return reply.header('content-type', 'application/dicom').send(file);
  }

  /** Series, study and patient level: a job whose new resources are stored. */
  @Post(':level/:id/:operation')
  @HttpCode(200)
  async resource(
    @Param('level') levelPath: string,
    @Param('id') id: string,
    @Param('operation') operation: string,
    @Body() body: Buffer,
    @Res() reply: FastifyReply,
  ) {
    const level = PATH_LEVEL[levelPath];
    if (!level || level === 'Instance') throw OrthancError.unknownResource();
    return sendJson(reply, await this.modification.submit(operationOf(operation), level, id, parseJsonBody(body)));
  }

  /** Orthanc 1.9.4+: one job over resources of any level (`{"Resources": [...]}`). */
  @Post('tools/bulk-:operation')
  @HttpCode(200)
  async bulk(@Param('operation') operation: string, @Body() body: Buffer, @Res() reply: FastifyReply) {
    return sendJson(reply, await this.modification.submit(operationOf(operation), 'Bulk', undefined, parseJsonBody(body)));
  }
}
