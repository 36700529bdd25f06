import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { parseJsonBody } from '../http/json-body';
import { BulkDeleteService } from './bulk-delete.service';
import { CreateDicomService } from './create-dicom.service';

@ApiTags('Tools')
@Controller('tools')
export class ToolsController {
  constructor(
    private readonly creator: CreateDicomService,
    private readonly bulkDeleter: BulkDeleteService,
  ) {}

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
