import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OrthancError, OrthancErrorCode, PRODUCT_NAME } from '@deidflow/common';
import type { AppConfig } from '@deidflow/config';
import { orthancErrorBody } from './orthanc-error-body';

/** The credentials the API accepts, as SHA-256 digests (compared in constant time, never kept in clear). */
export interface Authentication {
  readonly enabled: boolean;
  /** Digests of "user:password" (what HTTP Basic carries once decoded). */
  readonly basicCredentials: readonly Buffer[];
  readonly bearerTokens: readonly Buffer[];
}

export const WWW_AUTHENTICATE = `Basic realm="${PRODUCT_NAME}"`;

/** Routes that answer without credentials: the container health check (statuses only). */
const OPEN_ROUTES = new Set(['GET /health', 'HEAD /health']);

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** 127.0.0.0/8, ::1 and localhost: the only addresses where the default leaves authentication off. */
export function isLoopbackHost(host: string): boolean {
  const address = host.replace(/^\[|\]$/g, '').replace(/^::ffff:/i, '');
  if (address.toLowerCase() === 'localhost') return true;
  if (isIP(address) === 4) return address.startsWith('127.');
  return address === '::1';
}

/**
 * Orthanc's AuthenticationEnabled and RegisteredUsers, plus bearer tokens. On by default whenever
 * the API listens beyond loopback. Refuses to start when on without any credential (Orthanc would
 * fall back to a well-known default user; a de-identification service must not).
 */
export function authenticationFrom(config: Pick<AppConfig, 'AUTHENTICATION_ENABLED' | 'HTTP_HOST' | 'REGISTERED_USERS' | 'API_TOKENS'>): Authentication {
  const enabled = config.AUTHENTICATION_ENABLED ?? !isLoopbackHost(config.HTTP_HOST);
  const users = list(config.REGISTERED_USERS);
  users.forEach((entry, index) => {
    // The entry holds a password: say which one is wrong, never what it contains.
    if (entry.indexOf(':') < 1) throw new Error(`Invalid configuration: REGISTERED_USERS entry ${index + 1} is not "user:password"`);
  });
  const tokens = list(config.API_TOKENS);
  if (enabled && users.length === 0 && tokens.length === 0) {
    const why = config.AUTHENTICATION_ENABLED === undefined ? ` (HTTP_HOST ${config.HTTP_HOST} is not loopback)` : '';
    throw new Error(`Invalid configuration: authentication is on${why} but neither REGISTERED_USERS nor API_TOKENS is set`);
  }
  return { enabled, basicCredentials: users.map(digest), bearerTokens: tokens.map(digest) };
}

/** Compares against every candidate, whatever matches first, so the time does not tell which or whether. */
function matchesAny(secret: string, candidates: readonly Buffer[]): boolean {
  const given = digest(secret);
  let matched = false;
  for (const candidate of candidates) matched = timingSafeEqual(given, candidate) || matched;
  return matched;
}

/** Whether an Authorization header carries valid HTTP Basic credentials or a valid bearer token. */
export function isAuthorized(header: string | undefined, authentication: Authentication): boolean {
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header ?? '');
  if (!match) return false;
  const scheme = match[1].toLowerCase();
  if (scheme === 'bearer') return matchesAny(match[2], authentication.bearerTokens);
  if (scheme === 'basic') return matchesAny(Buffer.from(match[2], 'base64').toString('utf8'), authentication.basicCredentials);
  return false;
}

/**
 * The onRequest hook: runs before the body is read (an unauthenticated upload is refused before a
 * byte of it is buffered) and for every route, Nest's or not (Swagger, unknown routes).
 */
export function authenticationHook(authentication: Authentication) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (OPEN_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) return undefined;
    if (isAuthorized(request.headers.authorization, authentication)) return undefined;
    request.log.warn({ requestId: request.id }, 'request without valid credentials');
    const error = new OrthancError(OrthancErrorCode.Unauthorized, 'Valid credentials are required: HTTP Basic (REGISTERED_USERS) or a bearer token (API_TOKENS)');
    const uri = (request.raw.url ?? request.url).split('?')[0];
    // Returning the reply ends the request here (Fastify's early answer from an async hook).
    return reply
      .status(401)
      .header('www-authenticate', WWW_AUTHENTICATE)
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify(orthancErrorBody(error, request.method, uri)));
  };
}
