// metric_names: the runner's metrics under GitLab Runner's current names and
// labels (commands/builds_helper.go, network/api_requests_collector.go,
// helpers/prometheus/failures_collector.go, commands/multi.go), instead of or
// beside our ci_runner_* ones, so a GitLab Runner fleet's dashboards and
// alerts work unchanged. The renaming is done on each collection, before any
// rendering, so every format and every scrape agree; the SDK's instruments
// and the OTLP push keep the ci_runner_* names.
import type { Attributes } from '@opentelemetry/api';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ExecutorName, MetricNameSet } from '../config/types.ts';

const OURS = 'ci_runner_';
const GITLABS = 'gitlab_runner_';

/**
 * Where GitLab Runner's name differs from ours by more than the prefix. Its
 * labels: `runner` (the short token), `runner_name` and `system_id` on every
 * series about a runner. GitLab Runner leaves system_id off
 * gitlab_runner_failed_jobs_total and runner_name off the API and request
 * concurrency metrics; having them everywhere breaks none of its queries and
 * keeps every join between two of these metrics matching, as ours do.
 */
const RENAMED: Readonly<Record<string, string>> = { ci_runner_builds: 'gitlab_runner_jobs' };

/** GitLab Runner's name for one of ours, or undefined for a name that is not the runner's own (process, runtime, cicd.*). */
export function gitlabName(name: string): string | undefined {
  if (!name.startsWith(OURS)) return undefined;
  return RENAMED[name] ?? GITLABS + name.slice(OURS.length);
}

/** What the renaming needs to know of the runners, read on each collection so a reload takes effect. */
export interface MetricNaming {
  readonly names: MetricNameSet;
  readonly systemId: string;
  /** GitLab's `runner` label of the runner named `name`: its short token, or its name when it has no token. */
  runnerLabel(name: string): string;
  /** The executor of the runner named `name`, undefined for one no longer configured. */
  executorOf(name: string): ExecutorName | undefined;
}

/** GitLab's metrics with a `mode` label: every job here runs its script the traditional way (no steps). */
const MODE_METRICS = new Set(['ci_runner_job_duration_seconds', 'ci_runner_failed_jobs_total']);
const TRADITIONAL = 'traditional';

/** The API metrics, whose `method` GitLab Runner writes in lower case. */
const API_METRICS = new Set(['ci_runner_api_request_statuses_total', 'ci_runner_api_request_duration_seconds']);

/**
 * GitLab Runner's executor stage (its jobs list's and gitlab_runner_jobs'
 * executor_stage) while a job of `executor` is in build stage `stage`: the
 * docker executor prepares (docker_prepare) and then runs every build stage
 * in a container (docker_run); the shell executor sets only the generic
 * stages, and is in `prepare` from its preparation until the build ends.
 */
export function gitlabExecutorStage(executor: ExecutorName, stage: string): string {
  if (executor === 'shell') return 'prepare';
  return stage === 'prepare_executor' ? 'docker_prepare' : 'docker_run';
}

/** Called with each data point and its renamed copy, for what is kept beside the points (exemplars). */
export type PointCopied = (from: object, to: object) => void;

function gitlabAttributes(name: string, attributes: Attributes, naming: MetricNaming): Attributes {
  const { runner, ...rest } = attributes;
  if (typeof runner !== 'string') return attributes;
  const named: Attributes = { runner: naming.runnerLabel(runner), runner_name: runner, system_id: naming.systemId, ...rest };
  const { method, stage } = rest;
  if (API_METRICS.has(name) && typeof method === 'string') named['method'] = method.toLowerCase();
  if (MODE_METRICS.has(name)) named['mode'] = TRADITIONAL;
  const executor = naming.executorOf(runner);
  if (name === 'ci_runner_builds' && typeof stage === 'string' && executor !== undefined) named['executor_stage'] = gitlabExecutorStage(executor, stage);
  return named;
}

function gitlabTwin(metric: MetricData, twinName: string, naming: MetricNaming, copied: PointCopied | undefined): MetricData {
  // Every MetricData variant keeps its own point type: the spread keeps it, only the attributes change.
  const dataPoints = (metric.dataPoints as readonly { attributes: Attributes }[]).map((point) => {
    const copy = { ...point, attributes: gitlabAttributes(metric.descriptor.name, point.attributes, naming) };
    copied?.(point, copy);
    return copy;
  });
  return { ...metric, descriptor: { ...metric.descriptor, name: twinName }, dataPoints } as MetricData;
}

/** The collection as `naming.names` asks: unchanged for ci_runner, GitLab's twins instead of (gitlab_runner) or after (both) ours. */
export function applyMetricNames(resourceMetrics: ResourceMetrics, naming: MetricNaming, copied?: PointCopied): ResourceMetrics {
  if (naming.names === 'ci_runner') return resourceMetrics;
  const keepOurs = naming.names === 'both';
  return {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.flatMap((metric) => {
        const twinName = gitlabName(metric.descriptor.name);
        if (twinName === undefined) return [metric];
        const twin = gitlabTwin(metric, twinName, naming, copied);
        return keepOurs ? [metric, twin] : [twin];
      }),
    })),
  };
}
