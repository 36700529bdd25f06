import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { databaseUnavailable, isDatabaseUnavailable } from '@deidflow/database';
import { orthancErrorBody } from './orthanc-error-body';

/**
 * Turns every failure into Orthanc's JSON error shape. 4xx are the client's: answered as they are.
 * Anything else is our fault: logged with the request id (correlation id), answered as a 500
 * without internals (no stack traces, no messages that could carry data).
 */
@Catch()
export class OrthancExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    void replyWithOrthancError(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), exception);
  }
}

/**
 * Fastify's `frameworkErrors`: the router's own refusals, before any hook runs (a URL that does not
 * decode: 400; a path parameter over 100 characters: 414). Without hooks, no security header is
 * added: nosniff is the one a JSON error body needs.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void replyWithOrthancError(request, reply.header('x-content-type-options', 'nosniff'), error);
}

function replyWithOrthancError(request: FastifyRequest, reply: FastifyReply, exception: unknown): FastifyReply {
  const error = toOrthancError(exception);
  if (error.httpStatus >= 500) {
    request.log.error({ err: exception, requestId: request.id }, 'request failed');
  }
  const uri = (request.raw.url ?? request.url).split('?')[0];
  // 503: this process is going away, or its database is: the client should not keep the connection to it.
  // 408: the rest of a stalled body is not read, so the connection cannot serve another request.
  if (error.httpStatus === 503 || error.httpStatus === 408) reply.header('connection', 'close');
  return reply
    .status(error.httpStatus)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(orthancErrorBody(error, request.method, uri)));
}

const TOO_LARGE = 'The request body exceeds HTTP_BODY_LIMIT';

export function toOrthancError(exception: unknown): OrthancError {
  if (exception instanceof OrthancError) return exception;
  // Prisma's queries (the prepared ones are translated where they run): a transient 503, not our bug.
  if (isDatabaseUnavailable(exception)) return databaseUnavailable();
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return new OrthancError(OrthancErrorCode.UnknownResource, 'No such route or resource', 404);
    if (status === 413) return new OrthancError(OrthancErrorCode.RequestEntityTooLarge, TOO_LARGE);
    if (status === 401) return new OrthancError(OrthancErrorCode.Unauthorized);
    if (status < 500) return new OrthancError(OrthancErrorCode.BadRequest, exception.message, status);
    return new OrthancError(OrthancErrorCode.InternalError);
  }
  // Fastify's own errors (body too large, bad content length, ...) carry a statusCode.
  const fastifyError = exception as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode < 500) {
    if (fastifyError.statusCode === 413) {
      return new OrthancError(OrthancErrorCode.RequestEntityTooLarge, TOO_LARGE);
    }
    return new OrthancError(OrthancErrorCode.BadRequest, fastifyError.message, fastifyError.statusCode);
  }
  return new OrthancError(OrthancErrorCode.InternalError);
}
