// Who may ask the server what, in front of every route: the web config's
// rate limit, its response headers and its basic auth users, in the exporter
// toolkit's order; then the stricter rule for /debug/pprof (pprof_access and
// pprof_users in config.toml), because a profile costs CPU time and shows the
// runner's code paths, which a scrape does not.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText } from '../respond.ts';
import type { PprofAccess } from '../../config/types.ts';
import { type RequestListener, requestUrl } from '../router.ts';
import { BasicAuthChecker, basicCredentials } from './basic-auth.ts';
import { RateLimiter } from './rate-limiter.ts';
import type { RateLimit, WebConfig } from './web-config.ts';

export interface AccessPolicy {
  /** The web config in force now (reloads replace it). */
  readonly webConfig: () => WebConfig;
  readonly pprofAccess: () => PprofAccess;
  /** Basic auth users who may fetch profiles; empty: any the web config lets in. */
  readonly pprofUsers: () => readonly string[];
}

const PPROF_PATH = '/debug/pprof';

/** 127.0.0.0/8 and ::1, IPv4-mapped or not. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

function isProfileRequest(req: IncomingMessage): boolean {
  let path: string;
  try {
    path = requestUrl(req.url ?? '/').pathname;
  } catch {
    return false; // the router answers it 400
  }
  return path === PPROF_PATH || path.startsWith(`${PPROF_PATH}/`);
}

/** Why a profile request is refused; undefined when it is allowed. */
function profileRefusal(req: IncomingMessage, user: string | undefined, policy: AccessPolicy): string | undefined {
  if (policy.pprofAccess() === 'loopback' && !isLoopbackAddress(req.socket.remoteAddress)) {
    return 'profiles are served to clients on this machine only (pprof_access = "loopback" in config.toml)';
  }
  const users = policy.pprofUsers();
  if (users.length > 0 && (user === undefined || !users.includes(user))) {
    return 'profiles are served to the users listed in pprof_users only (config.toml)';
  }
  return undefined;
}

export function withWebAccess(listener: RequestListener, policy: AccessPolicy, checker: BasicAuthChecker = new BasicAuthChecker()): RequestListener {
  let limiter: { limit: RateLimit; limiter: RateLimiter } | undefined;
  const limiterFor = (limit: RateLimit | undefined): RateLimiter | undefined => {
    if (limit === undefined) return (limiter = undefined);
    if (limiter === undefined || limiter.limit.intervalMs !== limit.intervalMs || limiter.limit.burst !== limit.burst) {
      limiter = { limit, limiter: new RateLimiter(limit) };
    }
    return limiter.limiter;
  };

  const admit = (req: IncomingMessage, res: ServerResponse, user: string | undefined): void => {
    const refusal = isProfileRequest(req) ? profileRefusal(req, user, policy) : undefined;
    if (refusal !== undefined) sendText(req, res, 403, `Forbidden: ${refusal}`);
    else listener(req, res);
  };

  return (req, res) => {
    const config = policy.webConfig();
    const rate = limiterFor(config.rateLimit);
    if (rate !== undefined && !rate.allow()) {
      sendText(req, res, 429, 'Too Many Requests', { 'Retry-After': rate.retryAfterSeconds() });
      return;
    }
    for (const [name, value] of Object.entries(config.headers)) res.setHeader(name, value);
    if (config.users.size === 0) {
      admit(req, res, undefined);
      return;
    }
    const credentials = basicCredentials(req.headers.authorization);
    const unauthorized = (): void => sendText(req, res, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic' });
    if (credentials === undefined) {
      unauthorized();
      return;
    }
    checker.check(config.users, credentials).then(
      (verdict) => {
        if (res.destroyed) return;
        if (verdict === 'allowed') admit(req, res, credentials.user);
        else if (verdict === 'busy') sendText(req, res, 503, 'Service Unavailable: too many password checks at once', { 'Retry-After': 1 });
        else unauthorized();
      },
      () => unauthorized(),
    );
  };
}
