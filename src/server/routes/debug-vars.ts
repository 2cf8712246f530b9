// GET|HEAD /debug/vars: every metric as one JSON document, for scripts.
// GET|HEAD /debug/renderings: the three renderings of one collection side by
// side, to check that they agree (no other request can see one collection
// in more than one format).
import type { CollectionError, MetricsSource } from '../../telemetry/telemetry.ts';
import { send } from '../respond.ts';
import type { Route } from '../router.ts';
import { collectForRequest } from './metrics.ts';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function debugVarsRoutes(source: MetricsSource, onCollectionError: (error: CollectionError) => void): Route[] {
  return [
    {
      path: '/debug/vars',
      methods: ['GET', 'HEAD'],
      handler: async (req, res) => {
        const scrape = await collectForRequest(source, req, res, onCollectionError);
        if (scrape !== undefined) send(req, res, 200, scrape.json(), { 'Content-Type': JSON_CONTENT_TYPE });
      },
    },
    {
      path: '/debug/renderings',
      methods: ['GET', 'HEAD'],
      handler: async (req, res) => {
        const scrape = await collectForRequest(source, req, res, onCollectionError);
        if (scrape === undefined) return;
        const body = { prometheus: scrape.prometheus(), influx: scrape.influx(), vars: scrape.vars() };
        send(req, res, 200, JSON.stringify(body, null, 2) + '\n', { 'Content-Type': JSON_CONTENT_TYPE });
      },
    },
  ];
}
