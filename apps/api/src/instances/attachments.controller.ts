import { Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import type { InstanceRow } from '@deidflow/database';
import { fileUuidOf } from '@deidflow/storage';
import { queryFlag } from '../http/json-body';
import { assertId } from '../resources/browse.service';
import { sendInstanceFile } from './send-instance-file';

/** Orthanc's FileContentType_Dicom: the only attachment of a DeidFlow instance. */
const DICOM = { name: 'dicom', contentType: 1 } as const;

/**
 * Orthanc's read-only attachment routes for an instance's DICOM file. DeidFlow stores files as
 * received (never compressed) and records a SHA-256 rather than an MD5, so, as Orthanc does when
 * no MD5 was stored, `md5` and `verify-md5` are not offered; `sha256` and `verify-sha256` are
 * their DeidFlow counterparts.
 */
@ApiTags('Instances')
@Controller('instances/:id/attachments')
export class AttachmentsController {
  constructor(private readonly store: InstanceStoreService) {}

  @Get()
  @ApiOperation({ summary: 'The attachments of the instance: ["dicom"] ({"dicom": 1} with ?full)' })
  async list(@Param('id') id: string, @Query() query: Record<string, unknown>) {
    await this.instance(id);
    return queryFlag(query, 'full') ? { [DICOM.name]: DICOM.contentType } : [DICOM.name];
  }

  @Get(':name')
  @ApiOperation({ summary: 'The operations available on the attachment' })
  async operations(@Param('id') id: string, @Param('name') name: string) {
    const instance = await this.attachment(id, name);
    const digestOperations = instance.sha256 ? ['sha256', 'verify-sha256'] : [];
    return ['compressed-data', 'compressed-size', 'data', 'info', 'is-compressed', ...digestOperations, 'size'].sort();
  }

  @Get(':name/info')
  async info(@Param('id') id: string, @Param('name') name: string) {
    const instance = await this.attachment(id, name);
    return {
      CompressedSize: Number(instance.fileSize),
      ContentType: DICOM.contentType,
      ...(instance.sha256 ? { SHA256: instance.sha256 } : {}),
      UncompressedSize: Number(instance.fileSize),
      Uuid: fileUuidOf(instance.objectKey),
    };
  }

  @Get([':name/data', ':name/compressed-data'])
  async data(@Param('id') id: string, @Param('name') name: string, @Res() reply: FastifyReply) {
    return sendInstanceFile(this.store, await this.attachment(id, name), reply);
  }

  @Get([':name/size', ':name/compressed-size'])
  async size(@Param('id') id: string, @Param('name') name: string) {
    return String((await this.attachment(id, name)).fileSize);
  }

  @Get(':name/is-compressed')
  async isCompressed(@Param('id') id: string, @Param('name') name: string) {
    await this.attachment(id, name);
    return '0';
  }

  @Get(':name/sha256')
  @ApiOperation({ summary: 'SHA-256 of the file, recorded when it was stored (DeidFlow; Orthanc has md5)' })
  async sha256(@Param('id') id: string, @Param('name') name: string) {
    return this.recordedDigest(await this.attachment(id, name));
  }

  @Post(':name/verify-sha256')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Reads the stored file and checks it against its recorded SHA-256 (DeidFlow; Orthanc has verify-md5)',
    description: '{} when the file is intact; a 500 CorruptedFile error naming both digests when it is not.',
  })
  async verify(@Param('id') id: string, @Param('name') name: string) {
    const instance = await this.attachment(id, name);
    const recorded = this.recordedDigest(instance);
    const actual = await this.store.digestOfStoredFile(instance);
    if (actual !== recorded) {
      throw new OrthancError(
        OrthancErrorCode.CorruptedFile,
        `The stored file of instance ${id} does not match the SHA-256 recorded when it was stored (recorded ${recorded}, read ${actual})`,
      );
    }
    return {};
  }

  private recordedDigest(instance: InstanceRow): string {
    if (!instance.sha256) throw OrthancError.badRequest(`No SHA-256 was recorded for instance ${instance.id}`);
    return instance.sha256;
  }

  private async instance(id: string): Promise<InstanceRow> {
    assertId(id);
    return this.store.findInstanceOrThrow(id);
  }

  /** Orthanc accepts a content type by name or number. */
  private async attachment(id: string, name: string): Promise<InstanceRow> {
    const instance = await this.instance(id);
    if (name !== DICOM.name && name !== String(DICOM.contentType)) {
      throw new OrthancError(OrthancErrorCode.InexistentItem, `Unknown attachment "${name}": an instance has one, "dicom"`);
    }
    return instance;
  }
}
