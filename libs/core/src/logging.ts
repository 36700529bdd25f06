import type { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';

/**
 * One pino logger per process (JSON lines, to stdout unless `destination` says otherwise: tests
 * read what the process logs). Logs carry IDs (request, job, Orthanc resource IDs), never DICOM
 * values: no code path logs a dataset, a request body or a tag value.
 */
export function createLogger(level: string, name: string, destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
  };
  return destination ? pino(options, destination) : pino(options);
}

type Level = 'fatal' | 'error' | 'info' | 'warn' | 'debug' | 'trace';

/**
 * Nest's logger interface over pino, so framework messages land in the same JSON stream. Nest's
 * Logger passes (message, ...params, context): the code's `logger.warn({ jobId }, 'text')` arrives
 * as ({ jobId }, 'text', 'ClassName') and is written as pino's ({ jobId, context }, 'text'). Errors,
 * given as the message or as a parameter, go to `err` (pino's serializer: type, message, stack); a
 * stack trace given as text (Nest's `Logger.error(err, err.stack)`) goes to `trace`.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = params.filter((param) => param !== undefined);
    const last = rest[rest.length - 1];
    // Nest appends the logger's context last; a stack trace is never one.
    const context = typeof last === 'string' && !isStackTrace(last) ? (rest.pop() as string) : undefined;
    const fields: Record<string, unknown> = {};
    const texts: string[] = [];
    for (const param of [message, ...rest]) {
      if (param instanceof Error) fields.err = param;
      else if (typeof param === 'string') {
        if (isStackTrace(param)) fields.trace = param;
        else texts.push(param);
      } else if (param !== null && typeof param === 'object') Object.assign(fields, param);
      else if (param !== undefined && param !== null) texts.push(String(param));
    }
    if (texts.length === 0 && fields.err instanceof Error) texts.push(fields.err.message);
    this.logger[level]({ ...fields, context }, texts.join(' ') || undefined);
  }
}

function isStackTrace(text: string): boolean {
  return /\n\s+at /.test(text);
}
