import type { FastifyReply } from 'fastify';
import type { InstanceStoreService } from '@deidflow/core';
import type { InstanceRow } from '@deidflow/database';

const STREAM_ABOVE_BYTES = 16n * 1024n * 1024n;

/** An instance's stored file as the answer: typical instances in one write, large ones (multi-frame, whole-slide) streamed. */
export async function sendInstanceFile(store: InstanceStoreService, instance: InstanceRow, reply: FastifyReply): Promise<FastifyReply> {
  const body = instance.fileSize <= STREAM_ABOVE_BYTES ? await store.readFile(instance) : await store.readStream(instance);
  return reply
    .header('content-type', 'application/dicom')
    .header('content-length', String(instance.fileSize))
    .header('content-disposition', `attachment; filename="${instance.id}.dcm"`)
    .send(body);
}
