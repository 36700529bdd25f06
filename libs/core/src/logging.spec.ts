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

  it('takes the messages Nest itself sends (text and context), and an Error as its message', () => {
    const { lines, nest } = capture();
    nest.log('Mapped {/system, GET} route', 'RouterExplorer');
    nest.error(new Error('boom'), undefined, 'ExceptionHandler');
    expect(lines.map(fields)).toEqual([
      expect.objectContaining({ context: 'RouterExplorer', msg: 'Mapped {/system, GET} route' }),
      expect.objectContaining({ context: 'ExceptionHandler', msg: 'boom' }),
    ]);
  });
});
