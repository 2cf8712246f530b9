// The HTTP side of the test coordinator: reading requests as Grape does
// (query and body merged), and GitLab's answers (JSON errors, 403s).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(value),
});
export const text = (status: number, body: string, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'Content-Type': 'text/plain', ...headers },
  body,
});
/** Grape's forbidden!: `{"message":"403 Forbidden"}`, with " - reason" when one is given. */
export const forbidden = (reason?: string, headers: Record<string, string> = {}): Reply =>
  json(403, { message: reason ? `403 Forbidden - ${reason}` : '403 Forbidden' }, headers);
/** Grape's answer to a missing or malformed required parameter. */
export const badParam = (message: string): Reply => json(400, { error: message });

export function send(res: ServerResponse, reply: Reply): void {
  // setHeader, not writeHead's argument: only those show in getHeaders() for the record.
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.writeHead(reply.status);
  res.end(reply.status === 204 ? undefined : reply.body);
}

export function lowerCaseHeaders(headers: IncomingMessage['headers'] | OutgoingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolvePromise(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Grape merges query parameters and the (JSON or form) body; the body wins. */
export function parseParams(body: Buffer, contentType: string | undefined, query: URLSearchParams): Record<string, unknown> | undefined {
  const params: Record<string, unknown> = Object.fromEntries(query);
  if (body.length === 0) return params;
  const text = body.toString('utf8');
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return { ...params, ...Object.fromEntries(new URLSearchParams(text)) };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? { ...params, ...parsed } : undefined;
  } catch {
    return undefined;
  }
}
