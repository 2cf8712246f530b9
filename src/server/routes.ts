// The routes of the embedded server; /debug/pprof/* only when profiling is on; / lists the others.
import type { RunnerStatus } from '../job/status.ts';
import type { Logger } from '../log/logger.ts';
import type { MetricsSource } from '../telemetry/telemetry.ts';
import { debugVarsRoutes } from './routes/debug-vars.ts';
import { indexRoute } from './routes/index-page.ts';
import { jobsListRoute } from './routes/jobs-list.ts';
import { readinessRoute } from './routes/health.ts';
import { metricsRoute } from './routes/metrics.ts';
import { pprofRoutes } from './routes/pprof.ts';
import type { Profilers } from '../profiling/profilers.ts';
import { createRouter, type RequestListener } from './router.ts';

export function createRequestListener(agent: RunnerStatus, metrics: MetricsSource, logger: Logger, profilers?: Profilers): RequestListener {
  const onCollectionError = (error: Error): void => logger.error('Metrics collection failed', { error: error.message });
  const routes = [
    metricsRoute(metrics, onCollectionError),
    ...debugVarsRoutes(metrics, onCollectionError),
    readinessRoute(agent),
    jobsListRoute(agent),
    ...(profilers ? pprofRoutes(profilers) : []),
  ];
  return createRouter(
    [...routes, indexRoute(routes)],
    (error, req) =>
      logger.error('Request failed', { method: req.method, path: req.url?.split('?')[0], error: error instanceof Error ? error.message : String(error) }),
  );
}
