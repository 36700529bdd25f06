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

type Level = 'error' | 'info' | 'warn' | 'debug' | 'trace';

/**
 * Nest's logger interface over pino, so framework messages land in the same JSON stream. Nest's
 * Logger passes (message, ...params, context): the code's `logger.warn({ jobId }, 'text')` arrives
 * as ({ jobId }, 'text', 'ClassName'), and is written as pino's ({ context, jobId }, 'text'); an
 * error's stack trace, when Nest passes one, goes to `trace`.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
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
    const rest = [...params];
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const texts = rest.filter((param): param is string => typeof param === 'string');
    const trace = texts.find(isStackTrace);
    const text = texts.find((param) => param !== trace);
    const fields = { context, ...(trace ? { trace } : {}) };
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      this.logger[level]({ ...fields, ...message }, text);
    } else {
      this.logger[level](fields, [stringify(message), text].filter(Boolean).join(' '));
    }
  }
}

function isStackTrace(text: string): boolean {
  return /\n\s+at /.test(text);
}

function stringify(message: unknown): string {
  if (message instanceof Error) return message.message;
  return typeof message === 'string' ? message : JSON.stringify(message);
}
