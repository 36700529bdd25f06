import { OrthancErrorCode } from '@deidflow/common';
import { databaseUnavailable, isDatabaseUnavailable } from './errors';

describe('isDatabaseUnavailable', () => {
  const socketRefused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', syscall: 'connect' });

  it.each([
    ['a server restarting (57P03)', { code: '57P03', message: 'the database system is starting up' }],
    ['a connection terminated by an administrator (57P01)', { code: '57P01', message: 'terminating connection due to administrator command' }],
    ['a crash shutdown (57P02)', { code: '57P02' }],
    ['a connection exception (08006)', { code: '08006' }],
    ['too many connections (53300)', { code: '53300' }],
    ['Prisma: cannot reach the server (P1001)', { code: 'P1001', message: "Can't reach database server" }],
    ['Prisma: the pool timed out (P2024)', { code: 'P2024' }],
    ['a raw query whose adapter could not connect', { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } } }],
    ['a raw query whose server went away', { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } } }],
    ['a statement cancelled by statement_timeout (57014)', { code: '57014', message: 'canceling statement due to statement timeout' }],
    ['a session ended by idle_in_transaction_session_timeout (25P03)', { code: '25P03' }],
    ['Prisma over a server that did not answer a query', Object.assign(new Error('Query read timeout'), { clientVersion: '7.10.1' })],
    ['Prisma over a pool with no free connection in time', Object.assign(new Error('timeout exceeded when trying to connect'), { clientVersion: '7.10.1' })],
    ['a cause two levels down', { message: 'wrapped', cause: { message: 'again', cause: { code: '57P03' } } }],
  ])('true for %s', (_, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505' }],
    ['a syntax error', { code: '42601' }],
    ['a deadlock (a race, retried elsewhere)', { code: '40P01' }],
    ['a Prisma record not found', { code: 'P2025' }],
    ['a raw query that violated a constraint', { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'UniqueConstraintViolation' } } } }],
    ['a plain bug', new TypeError('Cannot read properties of undefined')],
    ['nothing', undefined],
    ['a string', 'ECONNREFUSED'],
  ])('false for %s', (_, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it('counts bare socket errors only when they can only be the driver’s', () => {
    expect(isDatabaseUnavailable(socketRefused)).toBe(false); // Redis or the object store could have thrown it
    expect(isDatabaseUnavailable(socketRefused, true)).toBe(true);
    expect(isDatabaseUnavailable(new Error('invalid input syntax'), true)).toBe(false);
  });

  it('counts node-postgres’ own wording wherever it comes from (no other client says it)', () => {
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated due to connection timeout'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Query read timeout'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection is closed.'))).toBe(false); // ioredis'
  });

  it('is answered as Orthanc’s DatabaseUnavailable, a transient 503', () => {
    const error = databaseUnavailable();
    expect(error.code).toBe(OrthancErrorCode.DatabaseUnavailable);
    expect(error.httpStatus).toBe(503);
    expect(error.isPermanent).toBe(false);
  });
});
