// Small helpers every route uses to answer, so all responses carry the same
// safety headers and HEAD requests get headers without a body.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const TEXT_PLAIN = 'text/plain; charset=utf-8';

export type Headers = Readonly<Record<string, string | number>>;

export function send(req: IncomingMessage, res: ServerResponse, status: number, body: string | Uint8Array, headers: Headers = {}): void {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    'Content-Type': TEXT_PLAIN,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    ...headers,
    'Content-Length': payload.byteLength,
  });
  res.end(req.method === 'HEAD' ? undefined : payload);
}

export function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string, headers: Headers = {}): void {
  send(req, res, status, text.endsWith('\n') ? text : text + '\n', headers);
}
