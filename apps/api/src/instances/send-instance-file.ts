import type { FastifyReply } from 'fastify';
import type { InstanceStoreService } from '@deidflow/core';
import type { InstanceRow } from '@deidflow/database';

/** An instance's stored file as the answer (InstanceStoreService.readForAnswer: whole or streamed). */
export async function sendInstanceFile(store: InstanceStoreService, instance: InstanceRow, reply: FastifyReply): Promise<FastifyReply> {
  const body = await store.readForAnswer(instance);
  return reply
    .header('content-type', 'application/dicom')
    .header('content-length', String(instance.fileSize))
    .header('content-disposition', `attachment; filename="${instance.id}.dcm"`)
    .send(body);
}
