import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Authentication, authenticationHook } from './authentication';

/**
 * Security of every answer, before Nest adds its routes:
 * - helmet 8's headers through NestJS's own `useSecurityHeaders()` (no dependency; its hook also runs
 *   for the router's own 400/414 answers), with frames refused and without `upgrade-insecure-requests`,
 *   which would break the Swagger UI of an API served over plain HTTP;
 * - cross-site requests from browsers refused (`enableCsrfProtection()`, Fetch Metadata): a browser
 *   keeps sending HTTP Basic credentials once given, so a page elsewhere must not be able to POST;
 * - authentication, right after the headers, so that a 401 carries them.
 * CORS stays off: no Access-Control-* header is ever sent.
 */
export function applyHttpSecurity(app: NestFastifyApplication, authentication: Authentication): void {
  app.useSecurityHeaders({ contentSecurityPolicy: { directives: { frameAncestors: "'none'", upgradeInsecureRequests: null } } });
  app.enableCsrfProtection();
  if (authentication.enabled) app.getHttpAdapter().getInstance().addHook('onRequest', authenticationHook(authentication));
}
