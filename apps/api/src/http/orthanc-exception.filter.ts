import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
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
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const error = toOrthancError(exception);
    if (error.httpStatus >= 500) {
      request.log.error({ err: exception, requestId: request.id }, 'request failed');
    }
    const uri = (request.raw.url ?? request.url).split('?')[0];
    void reply
      .status(error.httpStatus)
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify(orthancErrorBody(error, request.method, uri)));
  }
}

export function toOrthancError(exception: unknown): OrthancError {
  if (exception instanceof OrthancError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return new OrthancError(OrthancErrorCode.UnknownResource, 'No such route or resource', 404);
    if (status === 413) return new OrthancError(OrthancErrorCode.RequestEntityTooLarge);
    if (status === 401) return new OrthancError(OrthancErrorCode.Unauthorized);
    if (status < 500) return new OrthancError(OrthancErrorCode.BadRequest, exception.message, status);
    return new OrthancError(OrthancErrorCode.InternalError);
  }
  // Fastify's own errors (body too large, bad content length, ...) carry a statusCode.
  const fastifyError = exception as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode < 500) {
    if (fastifyError.statusCode === 413) {
      return new OrthancError(OrthancErrorCode.RequestEntityTooLarge, 'The request body exceeds HTTP_BODY_LIMIT');
    }
    return new OrthancError(OrthancErrorCode.BadRequest, fastifyError.message, fastifyError.statusCode);
  }
  return new OrthancError(OrthancErrorCode.InternalError);
}
