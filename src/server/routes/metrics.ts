// GET|HEAD /metrics: the Prometheus text exposition; OpenMetrics (with the
// histograms' exemplars) or InfluxDB line protocol with ?format= or an Accept
// header that prefers it. A failed collection is a 500 that says why, so
// Prometheus marks the target down instead of storing a partial scrape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CollectionError, type MetricsSource, type Scrape } from '../../telemetry/telemetry.ts';
import { send, sendText, TEXT_PLAIN } from '../respond.ts';
import type { Route } from '../router.ts';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_MEDIA_TYPE = 'application/openmetrics-text';
export const OPENMETRICS_CONTENT_TYPE = `${OPENMETRICS_MEDIA_TYPE}; version=1.0.0; charset=utf-8`;
/** Telegraf's inputs.http reads any Content-Type; InfluxDB's own write API is fed text/plain. */
export const LINE_PROTOCOL_CONTENT_TYPE = TEXT_PLAIN;
export const LINE_PROTOCOL_MEDIA_TYPE = 'application/x-influx-line-protocol';

const FORMATS = {
  prometheus: { contentType: EXPOSITION_CONTENT_TYPE, render: (scrape: Scrape) => scrape.prometheus() },
  influx: { contentType: LINE_PROTOCOL_CONTENT_TYPE, render: (scrape: Scrape) => scrape.influx() },
  openmetrics: { contentType: OPENMETRICS_CONTENT_TYPE, render: (scrape: Scrape) => scrape.openMetrics() },
} as const;
export type Format = keyof typeof FORMATS;
const FORMAT_NAMES = Object.keys(FORMATS) as Format[];

function isFormat(name: string): name is Format {
  return Object.hasOwn(FORMATS, name);
}

/** The format a media range of an Accept header asks for; the text format stands for every type but the other two. */
function formatOf(type: string, params: ReadonlyMap<string, string>): Format {
  if (type === LINE_PROTOCOL_MEDIA_TYPE) return 'influx';
  // Only the version we write: 0.0.1 (which Prometheus also offers) and later ones count as other types.
  const version = params.get('version');
  if (type === OPENMETRICS_MEDIA_TYPE && (version === undefined || version === '1.0.0')) return 'openmetrics';
  return 'prometheus';
}

/**
 * The format an Accept header asks for: OpenMetrics or line protocol when it
 * names that type with a higher weight than any other type it names (a tie
 * keeps the text format), else the text format. Prometheus names OpenMetrics
 * 1.0.0 first, so its scrapes get OpenMetrics; curl's default (any type)
 * and a missing header get the text format.
 */
export function negotiatedFormat(accept: string | undefined): Format {
  if (accept === undefined) return 'prometheus';
  const weights: Record<Format, number> = { prometheus: 0, influx: 0, openmetrics: 0 };
  for (const range of accept.split(',')) {
    const [type = '', ...parts] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type === '') continue;
    const params = new Map<string, string>();
    for (const part of parts) {
      const equals = part.indexOf('=');
      if (equals > 0) params.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    if (!Number.isFinite(q)) continue;
    const format = formatOf(type, params);
    weights[format] = Math.max(weights[format], q);
  }
  const best = Math.max(...Object.values(weights));
  const preferred = FORMAT_NAMES.filter((format) => weights[format] === best);
  return best > 0 && preferred.length === 1 ? preferred[0]! : 'prometheus';
}

/** The format the request asks for, or the reason it is a bad request. */
function requestedFormat(req: IncomingMessage, url: URL): { format: Format } | { error: string } {
  const accepted = `accepted: ${FORMAT_NAMES.join(', ')}`;
  const named = url.searchParams.getAll('format');
  if (named.length > 1) return { error: `format given ${named.length} times; ${accepted}` };
  const [name] = named;
  if (name !== undefined) return isFormat(name) ? { format: name } : { error: `unknown format ${JSON.stringify(name)}; ${accepted}` };
  return { format: negotiatedFormat(req.headers.accept) };
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
      const requested = requestedFormat(req, url);
      if ('error' in requested) {
        sendText(req, res, 400, `bad request: ${requested.error}`);
        return;
      }
      const scrape = await collectForRequest(source, req, res, onCollectionError);
      if (scrape === undefined) return;
      // A client that left meanwhile gets no rendering made for it.
      if (req.socket.destroyed) return;
      const { contentType, render } = FORMATS[requested.format];
      send(req, res, 200, render(scrape), { 'Content-Type': contentType, Vary: 'Accept' });
    },
  };
}
