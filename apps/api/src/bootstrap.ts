import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { DestinationStream } from 'pino';
import { AppConfig } from '@deidflow/config';
import { createLogger, PinoNestLogger } from '@deidflow/core';
import { migrate } from '@deidflow/database';
import { BufferPool, PRODUCT_NAME, PRODUCT_VERSION } from '@deidflow/common';
import { AppModule } from './app.module';
import { authenticationFrom } from './http/authentication';
import { applyHttpSecurity } from './http/http-security';
import { closeConnectionsWithoutRequest } from './http/graceful-close';
import { frameworkErrors } from './http/orthanc-exception.filter';
import { pooledBodyParser } from './http/pooled-body-parser';
import { limitRequestBodyMemory, RequestBodyBudget } from './http/request-body-budget';

/**
 * Builds the API application (migrations applied), ready to listen. Shared by main.ts and the
 * e2e tests, so tests boot exactly what production runs (`logDestination`: where the JSON logs go
 * instead of stdout, for tests that read them).
 */
export async function createApiApp(config: AppConfig, options: { logDestination?: DestinationStream } = {}): Promise<NestFastifyApplication> {
  // Before anything else: a bad credential setting stops the start with one readable line.
  const authentication = authenticationFrom(config);
  const logger = createLogger(config.LOG_LEVEL, 'api', options.logDestination);
  await migrate(config.DATABASE_URL);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    bodyLimit: config.HTTP_BODY_LIMIT,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    // One line per request only when debugging: uploads of thousands of files would drown the log.
    logController: new LogController({ disableRequestLogging: config.LOG_LEVEL !== 'debug' && config.LOG_LEVEL !== 'trace' }),
    frameworkErrors,
  });
  const fastify = adapter.getInstance();
  closeConnectionsWithoutRequest(fastify);
  fastify.removeAllContentTypeParsers();
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  limitRequestBodyMemory(fastify, app.get(RequestBodyBudget), config.HTTP_BODY_LIMIT);
  fastify.addContentTypeParser('*', pooledBodyParser(app.get(BufferPool), config.HTTP_BODY_LIMIT, config.HTTP_BODY_IDLE_TIMEOUT_MS));
  app.enableShutdownHooks();
  applyHttpSecurity(app, authentication);

  const openApi = new DocumentBuilder()
    .setTitle(PRODUCT_NAME)
    .setDescription('DICOM anonymization and modification, with Orthanc-compatible REST routes')
    .setVersion(PRODUCT_VERSION)
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi), { jsonDocumentUrl: 'openapi.json' });
  return app;
}
