import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { OrthancError } from '@deidflow/common';
import { isAeTitle, MAX_TIMEOUT_SECONDS } from '@deidflow/config';
import type { FastifyReply } from 'fastify';
import { sendJson } from '../http/json-answer';
import { parseJsonBody, queryFlag } from '../http/json-body';
import { ModalityService, StoreRequest } from './modality.service';

/** Orthanc's /modalities: the DICOM nodes of DICOM_MODALITIES, C-ECHO and C-STORE to them. */
@ApiTags('DICOM networking')
@Controller('modalities')
export class ModalitiesController {
  constructor(private readonly modalities: ModalityService) {}

  @Get()
  @ApiOperation({ summary: 'The names of the modalities; ?expand: their parameters, as Orthanc shows them' })
  async list(@Query() query: Record<string, unknown>) {
    const all = await this.modalities.all();
    return queryFlag(query, 'expand') ? all : Object.keys(all);
  }

  @Get(':name')
  @ApiOperation({ summary: 'What can be done with a modality (Orthanc lists its sub-routes)' })
  async operations(@Param('name') name: string) {
    await this.modalities.modality(name);
    return ['configuration', 'echo', 'store'];
  }

  @Get(':name/configuration')
  configuration(@Param('name') name: string) {
    return this.modalities.modality(name);
  }

  @Put(':name')
  @HttpCode(200)
  @Header('content-type', 'text/plain')
  @ApiOperation({ summary: 'Registers or replaces a modality, as Orthanc: ["AET", "host", port] or {"AET", "Host", "Port", ...}; kept across restarts' })
  async register(@Param('name') name: string, @Body() body: Buffer) {
    await this.modalities.register(name, parseJsonBody(body));
    return '';
  }

  @Delete(':name')
  @HttpCode(200)
  @Header('content-type', 'text/plain')
  async unregister(@Param('name') name: string) {
    await this.modalities.unregister(name);
    return '';
  }

  @Post(':name/echo')
  @HttpCode(200)
  @ApiOperation({ summary: 'C-ECHO: {} when the modality answers (body: {} or {"Timeout": seconds})' })
  async echo(@Param('name') name: string, @Body() body: Buffer) {
    const request = objectBody(parseJsonBody(body), ['Timeout', 'CheckFind']);
    if (request.CheckFind === true) throw OrthancError.badRequest('"CheckFind" is not supported: DeidFlow sends no C-FIND');
    await this.modalities.echo(name, timeoutOf(request));
    return {};
  }

  @Post(':name/store')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'C-STORE of the instances of resources of any level, as a DicomModalityStore job (synchronous unless "Asynchronous"): an ID, ["id", ...] or {"Resources": [...], "Permissive", "LocalAet", "Timeout", ...}',
  })
  async store(@Param('name') name: string, @Body() body: Buffer, @Res() reply: FastifyReply) {
    await this.modalities.modality(name); // 404 before the body is looked at, as Orthanc
    return sendJson(reply, await this.modalities.send(name, storeRequest(body)));
  }
}

const STORE_KEYS = ['Resources', 'Synchronous', 'Asynchronous', 'Permissive', 'Priority', 'LocalAet', 'Timeout', 'CalledAet', 'Host', 'Port', 'StorageCommitment', 'MoveOriginatorAet', 'MoveOriginatorID'];

/** Orthanc's forms: a bare ID (text), a JSON string, a JSON list, or an object with "Resources". */
function storeRequest(body: Buffer | undefined): StoreRequest {
  const text = (body ?? Buffer.alloc(0)).toString('utf8').trim();
  if (text === '') throw OrthancError.badRequest('Expected the resources to send: an ID, ["id", ...] or {"Resources": ["id", ...]}');
  const parsed = /^[[{"]/.test(text) ? parseJsonBody(body) : text;
  const request = typeof parsed === 'string' ? { Resources: [parsed] } : Array.isArray(parsed) ? { Resources: parsed } : objectBody(parsed, STORE_KEYS);
  const resources = request.Resources;
  if (!Array.isArray(resources) || resources.length === 0 || !resources.every((id) => typeof id === 'string')) {
    throw OrthancError.badRequest('"Resources" must be a non-empty list of resource IDs');
  }
  if (request.Asynchronous === true && request.Synchronous === true) throw OrthancError.badRequest('"Synchronous" and "Asynchronous" contradict each other');
  if (request.StorageCommitment === true) throw OrthancError.badRequest('"StorageCommitment" is not supported');
  if (request.MoveOriginatorAet !== undefined || request.MoveOriginatorID !== undefined) {
    throw OrthancError.badRequest('"MoveOriginatorAet" and "MoveOriginatorID" are not supported: DeidFlow serves no C-MOVE');
  }
  for (const key of ['Permissive', 'Synchronous', 'Asynchronous', 'StorageCommitment']) {
    if (request[key] !== undefined && typeof request[key] !== 'boolean') throw OrthancError.badRequest(`"${key}" must be true or false`);
  }
  if (request.Priority !== undefined && (!Number.isInteger(request.Priority) || Math.abs(request.Priority as number) > 2 ** 31 - 1)) {
    throw OrthancError.badRequest('"Priority" must be a 32-bit integer');
  }
  for (const key of ['LocalAet', 'CalledAet']) {
    if (request[key] !== undefined && !isAeTitle(request[key])) throw OrthancError.badRequest(`"${key}" must be an AE title (1 to 16 characters)`);
  }
  if (request.Host !== undefined && (typeof request.Host !== 'string' || request.Host.trim() === '')) throw OrthancError.badRequest('"Host" must be a host name or an address');
  if (request.Port !== undefined && (!Number.isInteger(request.Port) || (request.Port as number) < 1 || (request.Port as number) > 65535)) {
    throw OrthancError.badRequest('"Port" must be a number from 1 to 65535');
  }
  return {
    resources: resources as string[],
    permissive: request.Permissive === true,
    // Synchronous unless asked otherwise, as Orthanc's store.
    synchronous: !(request.Asynchronous === true || request.Synchronous === false),
    priority: (request.Priority as number | undefined) ?? 0,
    localAet: request.LocalAet as string | undefined,
    timeoutSeconds: timeoutOf(request),
    calledAet: request.CalledAet as string | undefined,
    host: request.Host as string | undefined,
    port: request.Port as number | undefined,
  };
}

function objectBody(body: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw OrthancError.badRequest('Expected a JSON object');
  for (const key of Object.keys(body)) if (!known.includes(key)) throw OrthancError.badRequest(`Unknown field: "${key}"`);
  return body as Record<string, unknown>;
}

function timeoutOf(request: Record<string, unknown>): number | undefined {
  const timeout = request.Timeout;
  if (timeout === undefined) return undefined;
  if (!Number.isInteger(timeout) || (timeout as number) < 0 || (timeout as number) > MAX_TIMEOUT_SECONDS) {
    throw OrthancError.badRequest(`"Timeout" must be a number of seconds, at most ${MAX_TIMEOUT_SECONDS}`);
  }
  return timeout as number;
}
