// Metrics of the runner's talk with coordinators and of its own log: API
// requests by endpoint and status, requests for jobs in flight, and log
// entries at warning level and above (GitLab Runner's names).
import type { Meter } from '@opentelemetry/api';
import type { LogLevel } from '../log/logger.ts';
import type { CoordinatorObserver } from '../job/source.ts';
import type { RunnerStatus } from '../job/status.ts';

/** GitLab Runner's buckets for API request durations. */
const API_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Log levels as GitLab Runner's ci_runner_errors_total names them (logrus). */
const ERROR_LEVELS: Partial<Record<LogLevel, string>> = { warn: 'warning', error: 'error', fatal: 'fatal', panic: 'panic' };

/** Returns, for a runner's name, the observer its coordinator client reports to. */
export function registerApiMetrics(meter: Meter): (runner: string) => CoordinatorObserver {
  const statuses = meter.createCounter('ci_runner_api_request_statuses_total', {
    description: 'Requests to coordinators, by runner, endpoint, HTTP status (0: no answer) and method.',
  });
  const durations = meter.createHistogram('ci_runner_api_request_duration_seconds', {
    description: 'Durations of requests to coordinators, by runner, endpoint, status class and method.',
    advice: { explicitBucketBoundaries: API_DURATION_BUCKETS },
  });
  return (runner) => ({ endpoint, method, status, seconds }) => {
    statuses.add(1, { runner, endpoint, status: String(status), method });
    durations.record(seconds, { runner, endpoint, status_class: status === 0 ? 'error' : `${Math.floor(status / 100)}xx`, method });
  };
}

export function registerRequestConcurrency(meter: Meter, agent: RunnerStatus): void {
  meter.createObservableGauge('ci_runner_request_concurrency', {
    description: 'Requests for new jobs in flight now, by runner.',
  }).addCallback((result) => {
    for (const [runner, count] of agent.requestsInFlight()) result.observe(count, { runner });
  });
}

/** Counts log entries by level; pass its `count` to the logger. */
export function registerErrorMetrics(meter: Meter): (level: LogLevel) => void {
  const errors = meter.createCounter('ci_runner_errors_total', { description: 'Log entries at warning level and above, by level.' });
  for (const level of Object.values(ERROR_LEVELS)) errors.add(0, { level });
  return (level) => {
    const name = ERROR_LEVELS[level];
    if (name !== undefined) errors.add(1, { level: name });
  };
}
