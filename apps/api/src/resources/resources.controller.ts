import { Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OrthancError, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { sendJsonArray } from '../http/json-answer';
import { queryFlag, queryInt } from '../http/json-body';
import { BrowseService } from './browse.service';
import { IntegrityService } from './integrity.service';
import { LineageService } from './lineage.service';
import { LINEAGE_SCHEMA } from './lineage.schema';
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
  async metadata(@Level() level: ResourceLevel, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    const metadata = await this.browse.metadataOf(level, id);
    return queryFlag(query, 'expand') ? metadata : Object.keys(metadata);
  }

  @Get(':id/metadata/:name')
  async metadataValue(@Level() level: ResourceLevel, @Param('id') id: string, @Param('name') name: string) {
    const metadata = await this.browse.metadataOf(level, id);
    if (!Object.hasOwn(metadata, name)) throw new OrthancError(OrthancErrorCode.InexistentItem, `No metadata "${name}"`);
    return metadata[name];
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
