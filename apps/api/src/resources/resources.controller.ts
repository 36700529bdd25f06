import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash } from 'node:crypto';
import { OrthancError, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { sendJsonArray } from '../http/json-answer';
import { queryFlag, queryInt } from '../http/json-body';
import { BrowseService } from './browse.service';
import { IntegrityService } from './integrity.service';
import { LineageService } from './lineage.service';
import { LINEAGE_SCHEMA } from './lineage.schema';
import { LabelService } from './label.service';
import { MetadataService } from './metadata.service';
import { Level } from './resource-level.decorator';

const RELATION_LEVEL: Record<string, ResourceLevel> = {
  patient: 'Patient',
  study: 'Study',
  series: 'Series',
  studies: 'Study',
  instances: 'Instance',
};

/** Orthanc's browse routes, shared by the four levels. */
@ApiTags('Resources')
@Controller(['patients', 'studies', 'series', 'instances'])
export class ResourcesController {
  constructor(
    private readonly browse: BrowseService,
    private readonly lineages: LineageService,
    private readonly integrity: IntegrityService,
    private readonly metadata: MetadataService,
    private readonly labels: LabelService,
  ) {}

  /** Every resource of the level (or `since`/`limit`'s page of them), streamed: an archive can hold millions. */
  @Get()
  async list(@Level() level: ResourceLevel, @Query() query: Record<string, unknown>, @Res() reply: FastifyReply) {
    const pages = this.browse.listPages(level, queryFlag(query, 'expand'), { since: queryInt(query, 'since'), limit: queryInt(query, 'limit') });
    return sendJsonArray(reply, pages);
  }

  @Get(':id')
  get(@Level() level: ResourceLevel, @Param('id') id: string) {
    return this.browse.get(level, id);
  }

  @Delete(':id')
  delete(@Level() level: ResourceLevel, @Param('id') id: string) {
    return this.browse.delete(level, id);
  }

  @Get(':id/metadata')
  listMetadata(@Level() level: ResourceLevel, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.metadata.list(level, id, { expand: queryFlag(query, 'expand'), numeric: queryFlag(query, 'numeric') });
  }

  @Get(':id/metadata/:name')
  async metadataValue(@Level() level: ResourceLevel, @Param('id') id: string, @Param('name') name: string, @Res() reply: FastifyReply) {
    const value = await this.metadata.value(level, id, name);
    return reply.type('text/plain').header('etag', metadataEtag(value)).send(value);
  }

  /** A user-defined metadata (USER_METADATA, or a number from 1024 to 65535): the body is its value. */
  @Put(':id/metadata/:name')
  async setMetadata(@Level() level: ResourceLevel, @Param('id') id: string, @Param('name') name: string, @Body() body: Buffer | undefined, @Res() reply: FastifyReply) {
    const value = await this.metadata.set(level, id, name, body ?? Buffer.alloc(0));
    return reply.type('text/plain').header('etag', metadataEtag(value)).send('');
  }

  @Delete(':id/metadata/:name')
  async deleteMetadata(@Level() level: ResourceLevel, @Param('id') id: string, @Param('name') name: string, @Res() reply: FastifyReply) {
    await this.metadata.delete(level, id, name);
    return reply.type('text/plain').send('');
  }

  /** Orthanc's labels (1.12.0): names of 1-64 letters, digits, `_` or `-`. */
  @Get(':id/labels')
  listLabels(@Level() level: ResourceLevel, @Param('id') id: string) {
    return this.labels.labelsOf(level, id);
  }

  @Get(':id/labels/:label')
  async hasLabel(@Level() level: ResourceLevel, @Param('id') id: string, @Param('label') label: string, @Res() reply: FastifyReply) {
    await this.labels.assertHas(level, id, label);
    return reply.type('text/plain').send('');
  }

  @Put(':id/labels/:label')
  async addLabel(@Level() level: ResourceLevel, @Param('id') id: string, @Param('label') label: string, @Res() reply: FastifyReply) {
    await this.labels.add(level, id, label);
    return reply.type('text/plain').send('');
  }

  @Delete(':id/labels/:label')
  async removeLabel(@Level() level: ResourceLevel, @Param('id') id: string, @Param('label') label: string, @Res() reply: FastifyReply) {
    await this.labels.remove(level, id, label);
    return reply.type('text/plain').send('');
  }

  @Get(':id/lineage')
  @ApiOperation({
    summary: 'Ancestors and descendants of the resource across generations (DeidFlow, not in Orthanc)',
    description:
      'Every anonymization and modification that produced this resource (Ancestors) or was produced from it ' +
      '(Descendants), any number of generations away, with the job and operation of each step. For a series, ' +
      'study or patient: the union over its instances.',
  })
  @ApiOkResponse({ schema: LINEAGE_SCHEMA })
  @ApiNotFoundResponse({ description: 'Unknown resource' })
  lineage(@Level() level: ResourceLevel, @Param('id') id: string) {
    return this.lineages.of(level, id);
  }

  @Post(':id/verify-sha256')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Reads back every stored file of the resource and checks it against its recorded SHA-256 (DeidFlow, not in Orthanc)',
    description: 'Answers {"InstancesCount", "CorruptedInstances": [ids], "MissingInstances": [ids]}; both lists empty when all is well.',
  })
  verify(@Level() level: ResourceLevel, @Param('id') id: string) {
    return this.integrity.verify(level, id);
  }

  /** `/studies/{id}/series`, `/instances/{id}/study`, `/patients/{id}/instances`, ... */
  @Get(':id/:relation')
  relation(
    @Level() level: ResourceLevel,
    @Param('id') id: string,
    @Param('relation') relation: string,
    @Query() query: Record<string, unknown>,
  ) {
    // An instance's attachments: AttachmentsController (a static route, matched first).
    if (relation === 'attachments') return this.browse.attachmentsOf(level, id);
    if (relation === 'statistics') return this.browse.resourceStatistics(level, id);
    const target = RELATION_LEVEL[relation];
    if (!target) throw OrthancError.unknownResource();
    const isPlural = relation === 'studies' || relation === 'instances' || (relation === 'series' && level !== 'Instance');
    if (isPlural) {
      const expand = !('expand' in query) || queryFlag(query, 'expand');
      return this.browse.descendants(level, id, target, expand);
    }
    return this.browse.ancestor(level, id, target);
  }
}

/** Orthanc's ETag of a metadata: its revision, then the MD5 of its value; DeidFlow keeps no revisions (CheckRevisions off), so 0. */
function metadataEtag(value: string): string {
  return `"0-${createHash('md5').update(value).digest('hex')}"`;
}
