// GET|HEAD /metrics: the Prometheus text exposition. A failed collection is a
// 500 that says why, so Prometheus marks the target down instead of storing
// a partial scrape.
import type { MetricsRenderer } from '../../telemetry/telemetry.ts';
import { CollectionError } from '../../telemetry/telemetry.ts';
import { send, sendText } from '../respond.ts';
import type { Route } from '../router.ts';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function metricsRoute(renderer: MetricsRenderer, onCollectionError: (error: CollectionError) => void): Route {
  return {
    path: '/metrics',
    methods: ['GET', 'HEAD'],
    handler: async (req, res) => {
      let body: string;
      try {
        body = await renderer.render();
      } catch (error) {
        if (!(error instanceof CollectionError)) throw error;
        onCollectionError(error);
        sendText(req, res, 500, error.message);
        return;
      }
      send(req, res, 200, body, { 'Content-Type': EXPOSITION_CONTENT_TYPE });
    },
  };
}
