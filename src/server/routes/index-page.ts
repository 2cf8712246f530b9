// GET /: what this server serves, so a browser pointed at the runner's
// address finds its way instead of a 404. HTML for a browser (Accept:
// text/html), plain text otherwise; it lists the routes actually enabled
// (no /debug/pprof/ when profiling is off).
import { send, sendText } from '../respond.ts';
import type { Route } from '../router.ts';

/** What each route gives, by path; a route missing here is listed by its path alone. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  '/metrics': 'Prometheus metrics (OpenMetrics or line protocol on request)',
  '/health/ready': 'readiness: 200 once the runner is up, 503 while starting or stopping',
  '/debug/jobs/list': 'the jobs running now, one a line',
  '/debug/vars': 'every metric as one JSON document',
  '/debug/renderings': 'the Prometheus, line-protocol and JSON renderings of one collection',
  '/debug/pprof/': 'CPU and heap profiles for go tool pprof',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /(^|[\s,])text\/html(\s*(;|,|$))/i.test(accept);
}

/** The index of `routes` (the other routes of the server, in the order given). */
export function indexRoute(routes: readonly Route[]): Route {
  // /debug/pprof (no slash) only redirects to /debug/pprof/: one entry is enough.
  const entries = routes
    .map((route) => route.path)
    .filter((path) => path !== '/' && !(path === '/debug/pprof' && routes.some((r) => r.path === '/debug/pprof/')))
    .map((path) => ({ path, description: DESCRIPTIONS[path] }));
  const text = `runner\n\n${entries.map((e) => (e.description === undefined ? e.path : `${e.path}  ${e.description}`)).join('\n')}\n`;
  const html = [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"><title>runner</title></head><body>',
    '<h1>runner</h1>',
    '<ul>',
    ...entries.map((e) =>
      `<li><a href="${escapeHtml(e.path)}">${escapeHtml(e.path)}</a>${e.description === undefined ? '' : ` - ${escapeHtml(e.description)}`}</li>`
    ),
    '</ul>',
    '</body></html>',
    '',
  ].join('\n');
  return {
    path: '/',
    methods: ['GET'],
    handler: (req, res) => {
      if (wantsHtml(req.headers.accept)) send(req, res, 200, html, { 'Content-Type': 'text/html; charset=utf-8', Vary: 'Accept' });
      else sendText(req, res, 200, text, { Vary: 'Accept' });
    },
  };
}
