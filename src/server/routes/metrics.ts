// GET|HEAD /metrics: the Prometheus text exposition, or InfluxDB line protocol
// with ?format=influx or an Accept header that prefers it. A failed
// collection is a 500 that says why, so Prometheus marks the target down
// instead of storing a partial scrape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CollectionError, type MetricsSource, type Scrape } from '../../telemetry/telemetry.ts';
import { send, sendText, TEXT_PLAIN } from '../respond.ts';
import type { Route } from '../router.ts';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Telegraf's inputs.http reads any Content-Type; InfluxDB's own write API is fed text/plain. */
export const LINE_PROTOCOL_CONTENT_TYPE = TEXT_PLAIN;
export const LINE_PROTOCOL_MEDIA_TYPE = 'application/x-influx-line-protocol';

const FORMATS = {
  prometheus: { contentType: EXPOSITION_CONTENT_TYPE, render: (scrape: Scrape) => scrape.prometheus() },
  influx: { contentType: LINE_PROTOCOL_CONTENT_TYPE, render: (scrape: Scrape) => scrape.influx() },
} as const;
type Format = keyof typeof FORMATS;
const FORMAT_NAMES = Object.keys(FORMATS) as Format[];

function isFormat(name: string): name is Format {
  return Object.hasOwn(FORMATS, name);
}

/**
 * True when the Accept header names the line protocol type with a higher
 * weight than any other type it names. Prometheus's own Accept header never
 * names it, so its scrapes always get the text format.
 */
export function prefersLineProtocol(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let lineProtocol = 0;
  let others = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type === '') continue;
    const weight = params.find((param) => /^q\s*=/.test(param));
    const q = weight === undefined ? 1 : Number(weight.slice(weight.indexOf('=') + 1).trim());
    if (!Number.isFinite(q)) continue;
    if (type === LINE_PROTOCOL_MEDIA_TYPE) lineProtocol = Math.max(lineProtocol, q);
    else others = Math.max(others, q);
  }
  return lineProtocol > 0 && lineProtocol > others;
}

/** The format the request asks for, or the reason it is a bad request. */
function requestedFormat(req: IncomingMessage, url: URL): Format | { error: string } {
  const accepted = `accepted: ${FORMAT_NAMES.join(', ')}`;
  const named = url.searchParams.getAll('format');
  if (named.length > 1) return { error: `format given ${named.length} times; ${accepted}` };
  const [name] = named;
  if (name !== undefined) return isFormat(name) ? name : { error: `unknown format ${JSON.stringify(name)}; ${accepted}` };
  return prefersLineProtocol(req.headers.accept) ? 'influx' : 'prometheus';
}

/**
 * Collects every metric once for this request. On a failed collection it has
 * answered 500 with the reason, reported it, and resolves undefined.
 */
export async function collectForRequest(
  source: MetricsSource,
  req: IncomingMessage,
  res: ServerResponse,
  onCollectionError: (error: CollectionError) => void,
): Promise<Scrape | undefined> {
  try {
    return await source.collect();
  } catch (error) {
    if (!(error instanceof CollectionError)) throw error;
    onCollectionError(error);
    sendText(req, res, 500, error.message);
    return undefined;
  }
}

export function metricsRoute(source: MetricsSource, onCollectionError: (error: CollectionError) => void): Route {
  return {
    path: '/metrics',
    methods: ['GET', 'HEAD'],
    handler: async (req, res, url) => {
      const format = requestedFormat(req, url);
      if (typeof format !== 'string') {
        sendText(req, res, 400, `bad request: ${format.error}`);
        return;
      }
      const scrape = await collectForRequest(source, req, res, onCollectionError);
      if (scrape === undefined) return;
      const { contentType, render } = FORMATS[format];
      send(req, res, 200, render(scrape), { 'Content-Type': contentType, Vary: 'Accept' });
    },
  };
}
