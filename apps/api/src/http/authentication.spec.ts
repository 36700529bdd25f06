import { authenticationFrom, isAuthorized, isLoopbackHost } from './authentication';

const basic = (credentials: string) => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

describe('authentication settings', () => {
  const settings = (overrides: Partial<Parameters<typeof authenticationFrom>[0]>) =>
    authenticationFrom({ AUTHENTICATION_ENABLED: undefined, HTTP_HOST: '127.0.0.1', REGISTERED_USERS: '', API_TOKENS: '', ...overrides });

  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])('counts %s as loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['0.0.0.0', '::', '10.0.0.5', 'deidflow.example.org', '128.0.0.1'])('counts %s as beyond loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it('is off by default on loopback, on by default beyond it (Orthanc: RemoteAccessAllowed)', () => {
    expect(settings({}).enabled).toBe(false);
    expect(settings({ HTTP_HOST: '0.0.0.0', REGISTERED_USERS: 'alice:secret' }).enabled).toBe(true);
    expect(settings({ HTTP_HOST: '0.0.0.0', AUTHENTICATION_ENABLED: false }).enabled).toBe(false);
    expect(settings({ AUTHENTICATION_ENABLED: true, API_TOKENS: 'token' }).enabled).toBe(true);
  });

  it('refuses to start when on without any credential', () => {
    expect(() => settings({ HTTP_HOST: '0.0.0.0' })).toThrow(
      'Invalid configuration: authentication is on (HTTP_HOST 0.0.0.0 is not loopback) but neither REGISTERED_USERS nor API_TOKENS is set',
    );
    expect(() => settings({ AUTHENTICATION_ENABLED: true })).toThrow(/neither REGISTERED_USERS nor API_TOKENS/);
  });

  it('names a malformed user entry without showing it (it may hold a password)', () => {
    const attempt = () => settings({ REGISTERED_USERS: 'alice:secret,no-colon-password' });
    expect(attempt).toThrow('Invalid configuration: REGISTERED_USERS entry 2 is not "user:password"');
    expect(attempt).not.toThrow(/no-colon-password/);
  });
});

describe('isAuthorized', () => {
  const authentication = authenticationFrom({
    AUTHENTICATION_ENABLED: true,
    HTTP_HOST: '0.0.0.0',
    REGISTERED_USERS: ' alice:pa:ss:word , bob:hunter2',
    API_TOKENS: 'token-one,token-two',
  });

  it('accepts registered Basic users (the password may hold colons) and API tokens', () => {
    expect(isAuthorized(basic('alice:pa:ss:word'), authentication)).toBe(true);
    expect(isAuthorized(basic('bob:hunter2'), authentication)).toBe(true);
    expect(isAuthorized('Bearer token-two', authentication)).toBe(true);
    expect(isAuthorized('bearer token-one', authentication)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['a wrong password', basic('alice:pa:ss')],
    ['an unknown user', basic('mallory:hunter2')],
    ['a password of another user', basic('alice:hunter2')],
    ['a token given as Basic', basic('token-one')],
    ['credentials given as a token', 'Bearer alice:pa:ss:word'],
    ['an unknown token', 'Bearer token-three'],
    ['a prefix of a token', 'Bearer token'],
    ['another scheme', 'Digest token-one'],
    ['a scheme alone', 'Bearer'],
    ['garbage', 'Basic %%%'],
  ])('refuses %s', (_, header) => {
    expect(isAuthorized(header, authentication)).toBe(false);
  });
});
