import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '@deidflow/config';
import { createLogger, PinoNestLogger } from '@deidflow/core';
import { migrate } from '@deidflow/database';
import { PRODUCT_NAME, PRODUCT_VERSION } from '@deidflow/common';
import { AppModule } from './app.module';

/**
 * Builds the API application (migrations applied), ready to listen. Shared by main.ts and the
 * e2e tests, so tests boot exactly what production runs.
 */
export async function createApiApp(config: AppConfig): Promise<NestFastifyApplication> {
  const logger = createLogger(config.LOG_LEVEL, 'api');
  await migrate(config.DATABASE_URL);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    bodyLimit: config.HTTP_BODY_LIMIT,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    disableRequestLogging: config.LOG_LEVEL !== 'debug' && config.LOG_LEVEL !== 'trace',
  });
  const fastify = adapter.getInstance();
  // Every body arrives raw: routes decide (DICOM, ZIP, or JSON whatever the Content-Type, as Orthanc).
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  app.enableShutdownHooks();

  const openApi = new DocumentBuilder()
    .setTitle(PRODUCT_NAME)
    .setDescription('DICOM anonymization and modification, with Orthanc-compatible REST routes')
    .setVersion(PRODUCT_VERSION)
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi), { jsonDocumentUrl: 'openapi.json' });
  return app;
}
