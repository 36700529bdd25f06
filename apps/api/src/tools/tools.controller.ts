import { Body, Controller, Get, Header, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { sendJsonArray } from '../http/json-answer';
import { parseJsonBody } from '../http/json-body';
import { BulkDeleteService } from './bulk-delete.service';
import { CreateDicomService } from './create-dicom.service';
import { LabelService } from '../resources/label.service';
import { FindService } from './find.service';

@ApiTags('Tools')
@Controller('tools')
export class ToolsController {
  constructor(
    private readonly creator: CreateDicomService,
    private readonly bulkDeleter: BulkDeleteService,
    private readonly finder: FindService,
    private readonly labels: LabelService,
  ) {}

  @Get('labels')
  @ApiOperation({ summary: 'Every label that some resource has (Orthanc 1.12.0)' })
  allLabels() {
    return this.labels.all();
  }

  @Post('find')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Find patients, studies, series or instances by their main DICOM tags',
    description:
      'Orthanc\'s C-FIND-like search: "Level", "Query" (tag name or "gggg,eeee" → pattern: exact value, `*`/`?` ' +
      'wildcards, a date or time range "20200101-20201231" with either end open, or values separated by `\\`), ' +
      '"Expand", "Limit", "Since", "CaseSensitive" (person names always match case-insensitively), "Labels" and ' +
      '"LabelsConstraint" ("All", the default, "Any" or "None"). The main DICOM ' +
      'tags of the level and of its ancestors can be searched; another tag is a 400 that lists them.',
  })
  @ApiBody({ schema: { type: 'object', example: { Level: 'Study', Query: { PatientName: 'DOE*', StudyDate: '20200101-' }, Expand: false } } })
  async find(@Body() body: Buffer, @Res() reply: FastifyReply) {
    return sendJsonArray(reply, this.finder.find(parseJsonBody(body)));
  }

  @Post('lookup')
  @HttpCode(200)
  @ApiOperation({ summary: 'The resources whose PatientID, StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID is the body' })
  @ApiBody({ schema: { type: 'string', example: '1.2.840.113619.2.176.2025.1499492.7391.1171285944.390' } })
  lookup(@Body() body: Buffer | undefined) {
    return this.finder.lookup(body);
  }

  @Post('create-dicom')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create one DICOM instance and store it',
    description:
      'Either the legacy flat form {"PatientName": "...", ...} (string values of public tags), or ' +
      '{"Tags": {...}, "Parent", "PrivateCreator", "Force", "InterpretBinaryTags"} with nested sequences as arrays ' +
      'of objects. "Parent" (a patient, study or series) copies the tags of its modules into the new instance. ' +
      '"Content" (pixel data or PDF) is not supported yet: 400.',
  })
  @ApiBody({ schema: { type: 'object', example: { Tags: { PatientName: 'Hello^World', Modality: 'OT' } } } })
  @ApiOkResponse({ description: 'As an upload: ID, ParentPatient, ParentStudy, ParentSeries, Path, Status' })
  createDicom(@Body() body: Buffer) {
    return this.creator.create(parseJsonBody(body));
  }

  @Post('bulk-delete')
  @HttpCode(200)
  @Header('content-type', 'text/plain; charset=utf-8')
  @ApiOperation({
    summary: 'Delete a set of resources of any level',
    description: 'Deletes each resource listed in "Resources" (with the cascade to emptied parents); unknown IDs are ignored.',
  })
  @ApiBody({ schema: { type: 'object', required: ['Resources'], properties: { Resources: { type: 'array', items: { type: 'string' } } } } })
  @ApiOkResponse({ description: 'An empty body' })
  async bulkDelete(@Body() body: Buffer): Promise<string> {
    await this.bulkDeleter.delete(parseJsonBody(body));
    return '';
  }
}
