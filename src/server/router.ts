// Maps a request to its route: 404 for unknown paths, 405 with an Allow
// header for a known path with another method, 500 when a handler throws.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText } from './respond.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface Route {
  readonly path: string;
  /** Allowed methods; GET implies HEAD. */
  readonly methods: readonly string[];
  readonly handler: RouteHandler;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function createRouter(routes: readonly Route[], onError: (error: unknown, req: IncomingMessage) => void): RequestListener {
  const byPath = new Map(routes.map((route) => {
    const methods = route.methods.includes('GET') && !route.methods.includes('HEAD') ? [...route.methods, 'HEAD'] : [...route.methods];
    return [route.path, { ...route, methods }] as const;
  }));

  return (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://runner.invalid');
    } catch {
      sendText(req, res, 400, 'bad request: malformed URL');
      return;
    }
    const route = byPath.get(url.pathname);
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
