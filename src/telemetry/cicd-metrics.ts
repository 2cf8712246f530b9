// The OpenTelemetry CI/CD conventions' metrics (cicd.*), as far as a runner can take them. The
// runner sees task runs (jobs), not whole pipelines: the pipeline metrics are recorded once per
// job, under its pipeline's name. docs/opentelemetry.md has the mapping and what is left out.
import type { Attributes, Meter } from '@opentelemetry/api';
import {
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RESULT,
  ATTR_CICD_PIPELINE_RUN_STATE,
  ATTR_CICD_SYSTEM_COMPONENT,
  ATTR_CICD_WORKER_STATE,
  ATTR_ERROR_TYPE,
  CICD_PIPELINE_RUN_STATE_VALUE_EXECUTING,
  CICD_PIPELINE_RUN_STATE_VALUE_FINALIZING,
  CICD_PIPELINE_RUN_STATE_VALUE_PENDING,
  CICD_WORKER_STATE_VALUE_AVAILABLE,
  CICD_WORKER_STATE_VALUE_BUSY,
  CICD_WORKER_STATE_VALUE_OFFLINE,
  METRIC_CICD_PIPELINE_RUN_DURATION,
  METRIC_CICD_PIPELINE_RUN_ERRORS,
  METRIC_CICD_SYSTEM_ERRORS,
  METRIC_CICD_WORKER_COUNT,
} from '@opentelemetry/semantic-conventions/incubating';
import { type BuildStage, COUNTED_FAILURE_REASONS, type JobResult } from '../job/result.ts';
import type { CoordinatorCall, CoordinatorObserver, QueueInfo } from '../job/source.ts';
import type { FinishedJob, HandedOutJob, RunnerStatus, StartedJob } from '../job/status.ts';
import { pipelineName, pipelineResult } from './cicd-attributes.ts';
import { frozenAttributes } from './attribute-sets.ts';

/**
 * Distinct cicd.pipeline.name values kept; later ones, and jobs that name no pipeline, are
 * recorded as OTHER_PIPELINES. A name comes from the job (GitLab's workflow:name may hold
 * variables): without a cap, one templated name could grow the series without end.
 */
export const MAX_PIPELINE_NAMES = 100;
/** The conventions' word for "none of the known values" (as for error.type and http.request.method). */
export const OTHER_PIPELINES = '_OTHER';

/** The conventions' units (UCUM; braces hold an annotation, not a unit). */
const UNIT_SECONDS = 's';
const UNIT_WORKERS = '{worker}';
const UNIT_ERRORS = '{error}';

/** Phases last from under a second (a cleanup) to hours (a long queue or build). */
const PHASE_BUCKETS = [0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 18000, 36000];

/** The cicd.system.component values, and the error.type values each one counts under. */
export const SYSTEM_ERROR_TYPES = {
  /** Requests to a coordinator: no answer, or a 4xx or 5xx that is not part of the protocol. */
  coordinator: ['no_response', '4xx', '5xx'],
  /** A configuration reload (SIGHUP) that failed and left the previous configuration in use. */
  configuration: ['reload_failed'],
  /** Jobs that failed through the runner's fault (GitLab's system failure), not their own. */
  executor: ['runner_system_failure'],
} as const;
export type SystemComponent = keyof typeof SYSTEM_ERROR_TYPES;
type SystemErrorType<C extends SystemComponent> = (typeof SYSTEM_ERROR_TYPES)[C][number];

/**
 * Build stages in the conventions' pending state besides the queue: "provisioning agents,
 * creating run resources" (the executor's environment, GitLab's "Preparing environment").
 */
const PENDING_STAGES: ReadonlySet<BuildStage> = new Set(['prepare_executor', 'prepare_script']);
/** Build stages after the job's commands: what the run leaves behind, and its cleanup. */
const FINALIZING_STAGES: ReadonlySet<BuildStage> = new Set([
  'archive_cache',
  'archive_cache_on_failure',
  'upload_artifacts_on_success',
  'upload_artifacts_on_failure',
  'cleanup_file_variables',
]);

export type RunState =
  | typeof CICD_PIPELINE_RUN_STATE_VALUE_PENDING
  | typeof CICD_PIPELINE_RUN_STATE_VALUE_EXECUTING
  | typeof CICD_PIPELINE_RUN_STATE_VALUE_FINALIZING;

export interface RunPhase {
  readonly state: RunState;
  readonly seconds: number;
}

/**
 * A job's phases in the conventions' states, in order, each only where the runner measured it:
 * pending = the time in its queue (as its source tells it) plus the preparing stages, absent
 * when the source cannot tell the queue time; executing = get_sources to after_script;
 * finalizing = the cache and artifact uploads and the cleanup.
 */
export function runPhases(result: Pick<JobResult, 'stages'>, queue: QueueInfo | undefined): RunPhase[] {
  const sums = new Map<RunState, number>();
  for (const { stage, durationSeconds } of result.stages) {
    const state = PENDING_STAGES.has(stage)
      ? CICD_PIPELINE_RUN_STATE_VALUE_PENDING
      : FINALIZING_STAGES.has(stage)
      ? CICD_PIPELINE_RUN_STATE_VALUE_FINALIZING
      : CICD_PIPELINE_RUN_STATE_VALUE_EXECUTING;
    sums.set(state, (sums.get(state) ?? 0) + durationSeconds);
  }
  const phases: RunPhase[] = [];
  if (queue !== undefined) {
    phases.push({ state: CICD_PIPELINE_RUN_STATE_VALUE_PENDING, seconds: queue.waitedSeconds + (sums.get(CICD_PIPELINE_RUN_STATE_VALUE_PENDING) ?? 0) });
  }
  for (const state of [CICD_PIPELINE_RUN_STATE_VALUE_EXECUTING, CICD_PIPELINE_RUN_STATE_VALUE_FINALIZING] as const) {
    const seconds = sums.get(state);
    if (seconds !== undefined) phases.push({ state, seconds });
  }
  return phases;
}

export interface WorkerSlots {
  readonly busy: number;
  readonly available: number;
  readonly offline: number;
}

/**
 * The runner's job slots by the conventions' worker states: busy = running jobs; available =
 * free slots of `concurrent` that a runner asking for jobs may fill within its `limit`;
 * offline = the other free slots (the agent is starting, draining or stopped, no runner asks,
 * or every runner that asks is at its limit). They add up to `concurrent`, or to the running
 * jobs while a reload has lowered `concurrent` below them.
 */
export function workerSlots(status: RunnerStatus): WorkerSlots {
  const running = status.runningJobs();
  const busy = running.length;
  const free = Math.max(0, status.config.concurrent - busy);
  const taking = status.runnersTakingJobs();
  let fillable = 0;
  for (const runner of status.config.runners) {
    if (!taking.has(runner.name)) continue;
    if (runner.limit === 0) {
      fillable = Infinity;
      break;
    }
    fillable += Math.max(0, runner.limit - running.filter((job) => job.runner === runner.name).length);
  }
  const available = Math.min(free, fillable);
  return { busy, available, offline: free - available };
}

/**
 * The error.type of a coordinator request that failed, undefined for one that did not. Two
 * answers are GitLab's protocol rather than failures: 409 to a job request (another request
 * of the runner is being served) and 416 to a log patch (the coordinator says where it is).
 */
export function coordinatorErrorType({ endpoint, status }: Pick<CoordinatorCall, 'endpoint' | 'status'>): SystemErrorType<'coordinator'> | undefined {
  if (status === 0) return 'no_response';
  if ((status === 409 && endpoint === 'request_job') || (status === 416 && endpoint === 'patch_trace')) return undefined;
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  return undefined;
}

export interface CicdMetrics {
  jobStarted(job: StartedJob): void;
  jobFinished(job: FinishedJob): void;
  /** A failed configuration reload. */
  configurationFailed(): void;
  /** An observer for one coordinator client's requests; its error series start at 0 from here. */
  coordinatorObserver(): CoordinatorObserver;
  /** Starts observing the agent's job slots. */
  observe(agent: RunnerStatus): void;
}

export function registerCicdMetrics(meter: Meter): CicdMetrics {
  const duration = meter.createHistogram(METRIC_CICD_PIPELINE_RUN_DURATION, {
    description: "Duration of each job's phases (per task run: the runner sees jobs, not whole pipelines), by pipeline, state and result.",
    unit: UNIT_SECONDS,
    advice: { explicitBucketBoundaries: PHASE_BUCKETS },
  });
  const runErrors = meter.createCounter(METRIC_CICD_PIPELINE_RUN_ERRORS, {
    description: 'Jobs that failed, by pipeline and failure reason.',
    unit: UNIT_ERRORS,
  });
  const systemErrors = meter.createCounter(METRIC_CICD_SYSTEM_ERRORS, {
    description: "Errors of the CI/CD system as the runner meets them (its coordinator's requests, configuration reloads, system failures of jobs).",
    unit: UNIT_ERRORS,
  });
  const countSystemError = <C extends SystemComponent>(component: C, type: SystemErrorType<C>, count = 1): void => {
    systemErrors.add(count, { [ATTR_CICD_SYSTEM_COMPONENT]: component, [ATTR_ERROR_TYPE]: type });
  };
  // Series start at 0, so that rate() and increase() see their first error (alerts on rare errors).
  const zero = (component: SystemComponent): void => {
    for (const type of SYSTEM_ERROR_TYPES[component]) countSystemError(component, type, 0);
  };
  zero('configuration');
  zero('executor');
  let coordinatorZeroed = false;

  const names = new Set<string>();
  /** The job's pipeline name within the cap, remembered with its error series at 0. */
  const nameOf = (job: HandedOutJob | undefined): string => {
    const named = job === undefined ? undefined : pipelineName(job.job);
    const name = named !== undefined && (names.has(named) || names.size < MAX_PIPELINE_NAMES) ? named : OTHER_PIPELINES;
    if (!names.has(name)) {
      names.add(name);
      for (const reason of COUNTED_FAILURE_REASONS) runErrors.add(0, { [ATTR_CICD_PIPELINE_NAME]: name, [ATTR_ERROR_TYPE]: reason });
    }
    return name;
  };

  return {
    jobStarted({ job }) {
      nameOf(job);
    },

    jobFinished({ result, job }) {
      const name = nameOf(job);
      // Failed runs only: the conventions ask error.type of a run that failed, and a canceled job did not.
      const errorType = result.state === 'failed' ? result.failureReason ?? 'unknown_failure' : undefined;
      const phases = runPhases(result, job?.queue);
      for (const [index, { state, seconds }] of phases.entries()) {
        const attributes: Attributes = { [ATTR_CICD_PIPELINE_NAME]: name, [ATTR_CICD_PIPELINE_RUN_STATE]: state };
        // The result is set in the phase the job ended in, its last: only that one carries it.
        if (index === phases.length - 1) {
          attributes[ATTR_CICD_PIPELINE_RESULT] = pipelineResult(result);
          if (errorType !== undefined) attributes[ATTR_ERROR_TYPE] = errorType;
        }
        duration.record(seconds, attributes);
      }
      if (errorType === undefined) return;
      runErrors.add(1, { [ATTR_CICD_PIPELINE_NAME]: name, [ATTR_ERROR_TYPE]: errorType });
      if (errorType === 'runner_system_failure') countSystemError('executor', errorType);
    },

    configurationFailed() {
      countSystemError('configuration', 'reload_failed');
    },

    coordinatorObserver() {
      if (!coordinatorZeroed) zero('coordinator');
      coordinatorZeroed = true;
      return (call) => {
        const type = coordinatorErrorType(call);
        if (type !== undefined) countSystemError('coordinator', type);
      };
    },

    observe(agent) {
      const workers = meter.createObservableUpDownCounter(METRIC_CICD_WORKER_COUNT, {
        description: "The runner's job slots (concurrent) by state: busy running a job, available to take one, offline (not taking jobs).",
        unit: UNIT_WORKERS,
      });
      const busy = frozenAttributes({ [ATTR_CICD_WORKER_STATE]: CICD_WORKER_STATE_VALUE_BUSY });
      const available = frozenAttributes({ [ATTR_CICD_WORKER_STATE]: CICD_WORKER_STATE_VALUE_AVAILABLE });
      const offline = frozenAttributes({ [ATTR_CICD_WORKER_STATE]: CICD_WORKER_STATE_VALUE_OFFLINE });
      workers.addCallback((observer) => {
        const slots = workerSlots(agent);
        observer.observe(slots.busy, busy);
        observer.observe(slots.available, available);
        observer.observe(slots.offline, offline);
      });
    },
  };
}
