import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { OrthancError, PATH_LEVEL, ResourceLevel } from '@deidflow/common';

/** The level named by the first segment of the URL (`/studies/...` → Study). */
export const Level = createParamDecorator((_: unknown, ctx: ExecutionContext): ResourceLevel => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  const segment = request.url.split('?')[0].split('/')[1] ?? '';
  const level = PATH_LEVEL[segment];
  if (!level) throw OrthancError.unknownResource();
  return level;
});
