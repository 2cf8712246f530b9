// The routes of the embedded server. /debug/pprof/* is reserved for the profilers.
import type { AgentView } from '../agent/agent.ts';
import type { Logger } from '../log/logger.ts';
import type { MetricsRenderer } from '../telemetry/telemetry.ts';
import { jobsListRoute } from './routes/jobs-list.ts';
import { readinessRoute } from './routes/health.ts';
import { metricsRoute } from './routes/metrics.ts';
import { createRouter, type RequestListener } from './router.ts';

export function createRequestListener(agent: AgentView, metrics: MetricsRenderer, logger: Logger): RequestListener {
  return createRouter(
    [
      metricsRoute(metrics, (error) => logger.error('Metrics collection failed', { error: error.message })),
      readinessRoute(agent),
      jobsListRoute(agent),
    ],
    (error, req) => logger.error('Request failed', { method: req.method, path: req.url?.split('?')[0], error: error instanceof Error ? error.message : String(error) }),
  );
}
