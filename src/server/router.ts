// Maps a request to its route: 404 for unknown paths, 405 with an Allow
// header for a known path with another method, 500 when a handler throws.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText } from './respond.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface Route {
  /** The exact path, or with `prefix` every path that starts with it. */
  readonly path: string;
  readonly prefix?: boolean;
  /** Allowed methods; GET implies HEAD. */
  readonly methods: readonly string[];
  readonly handler: RouteHandler;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The request target as a URL on a fixed origin. Origin form (`/metrics`) is
 * prefixed with the origin, which keeps "//metrics" a path instead of a host
 * name; absolute form (`http://host:9252/metrics`), which RFC 9112 section
 * 3.2.2 says a server must accept, keeps its path and query. Anything else
 * throws.
 */
export function requestUrl(target: string): URL {
  if (/^https?:\/\//i.test(target)) {
    const absolute = new URL(target);
    return new URL(`http://runner.invalid${absolute.pathname}${absolute.search}`);
  }
  if (!target.startsWith('/')) throw new TypeError('not an origin-form or absolute-form request target');
  return new URL(`http://runner.invalid${target}`);
}

export function createRouter(routes: readonly Route[], onError: (error: unknown, req: IncomingMessage) => void): RequestListener {
  const byPath = new Map(routes.map((route) => {
    const methods = route.methods.includes('GET') && !route.methods.includes('HEAD') ? [...route.methods, 'HEAD'] : [...route.methods];
    return [route.path, { ...route, methods }] as const;
  }));
  const prefixes = [...byPath.values()].filter((route) => route.prefix);

  return (req, res) => {
    let url: URL;
    try {
      url = requestUrl(req.url ?? '/');
    } catch {
      sendText(req, res, 400, 'bad request: malformed URL');
      return;
    }
    if (hasBody(req)) {
      // No route takes a body. Refuse and close rather than wait for it: a
      // trickled body would otherwise hold the connection open on some runtimes.
      res.once('finish', () => req.destroy());
      sendText(req, res, 413, 'request bodies are not accepted', { Connection: 'close' });
      return;
    }
    const route = byPath.get(url.pathname) ?? prefixes.find((r) => url.pathname.startsWith(r.path));
    if (!route) {
      sendText(req, res, 404, `not found: ${url.pathname}`);
      return;
    }
    if (!route.methods.includes(req.method ?? '')) {
      sendText(req, res, 405, `method ${req.method ?? ''} not allowed on ${url.pathname}`, { Allow: route.methods.join(', ') });
      return;
    }
    Promise.resolve()
      .then(() => route.handler(req, res, url))
      .catch((error: unknown) => {
        onError(error, req);
        if (!res.headersSent) sendText(req, res, 500, `internal error: ${error instanceof Error ? error.message : String(error)}`);
        else res.destroy();
      });
  };
}
