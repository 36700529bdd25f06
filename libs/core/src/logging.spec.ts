import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { createLogger, PinoNestLogger } from './logging';

/** What the process would write, one parsed JSON line per entry. */
function capture(): { lines: Record<string, unknown>[]; nest: PinoNestLogger } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')));
      done();
    },
  });
  return { lines, nest: new PinoNestLogger(createLogger('trace', 'test', destination)) };
}

const fields = ({ context, msg, trace, ...rest }: Record<string, unknown>) => ({ context, msg, trace, ...rest, level: undefined, time: undefined, pid: undefined, hostname: undefined, name: undefined });

describe('PinoNestLogger', () => {
  afterEach(() => Logger.overrideLogger(false));

  it("writes Nest's Logger calls as pino entries: the class as context, the text as msg, the object's fields", () => {
    const { lines, nest } = capture();
    Logger.overrideLogger(nest);
    const logger = new Logger('DicomServer');
    logger.warn({ port: 4242 }, 'listening');
    logger.log('plain text');
    logger.error({ err: 'refused' }, 'C-STORE failed');
    logger.error('failed', 'Error: failed\n    at somewhere (file.js:1:1)');
    expect(lines.map(fields)).toEqual([
      expect.objectContaining({ context: 'DicomServer', msg: 'listening', port: 4242 }),
      expect.objectContaining({ context: 'DicomServer', msg: 'plain text' }),
      expect.objectContaining({ context: 'DicomServer', msg: 'C-STORE failed', err: 'refused' }),
      expect.objectContaining({ context: 'DicomServer', msg: 'failed', trace: 'Error: failed\n    at somewhere (file.js:1:1)' }),
    ]);
    expect(lines.map((line) => line.level)).toEqual([40, 30, 50, 50]);
  });

  it('takes the messages Nest itself sends: text and context, Errors with their stack, stack traces, fatal', () => {
    const { lines, nest } = capture();
    Logger.overrideLogger(nest);
    nest.log('Mapped {/system, GET} route', 'RouterExplorer');
    nest.error(new Error('boom'), undefined, 'ExceptionHandler');
    const hookFailure = new Error('hook failed');
    Logger.error(hookFailure, hookFailure.stack); // Nest's lifecycle hooks, without a context
    new Logger('Worker').error('could not store', new Error('disk full'));
    new Logger('Api').fatal('cannot start');
    new Logger('Api').warn({ context: 'spoofed', jobId: 'j' }, 'text');
    expect(lines.map(fields)).toEqual([
      expect.objectContaining({ context: 'RouterExplorer', msg: 'Mapped {/system, GET} route' }),
      expect.objectContaining({ context: 'ExceptionHandler', msg: 'boom', err: expect.objectContaining({ type: 'Error', message: 'boom', stack: expect.stringContaining('at ') }) }),
      expect.objectContaining({ context: undefined, msg: 'hook failed', err: expect.objectContaining({ message: 'hook failed' }), trace: hookFailure.stack }),
      expect.objectContaining({ context: 'Worker', msg: 'could not store', err: expect.objectContaining({ message: 'disk full' }) }),
      expect.objectContaining({ context: 'Api', msg: 'cannot start' }),
      expect.objectContaining({ context: 'Api', msg: 'text', jobId: 'j' }),
    ]);
    expect(lines[4].level).toBe(60);
  });
});
