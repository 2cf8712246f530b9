// Metrics of the docker executor's work, told by the executor as it happens
// (job/executor.ts ExecutorEvents): image pulls by pull policy and result,
// container start latency, the wait for services, containers running. Labels
// come from fixed lists, never from the job (no image names: bounded series).
import type { Meter } from '@opentelemetry/api';
import type { ExecutorEvents } from '../job/executor.ts';

/** How getting an image ended: pulled from a registry, found on the host, or failed. */
export const IMAGE_PULL_RESULTS = ['pulled', 'local', 'failed'] as const;
/** How the wait for a job's services ended. */
export const SERVICES_WAIT_RESULTS = ['up', 'not_up'] as const;

/** Seconds: a local image in milliseconds, a pull of a large image over minutes. */
const PULL_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds: a container starts in tens of milliseconds to a few seconds. */
const START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: services answer within a second or wait out the timeout (30 s by default). */
const WAIT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The executor's events for one runner, recorded under its name. */
export function registerExecutorMetrics(meter: Meter): (runner: string) => ExecutorEvents {
  const pulls = meter.createHistogram('ci_runner_docker_image_pull_duration_seconds', {
    description: 'Time to get an image for a job or service, by pull policy and result (pulled, local: found on the host, failed).',
    advice: { explicitBucketBoundaries: PULL_BUCKETS },
  });
  const starts = meter.createHistogram('ci_runner_docker_container_start_duration_seconds', {
    description: "Time from a container's start request to the daemon's answer, by container type (build, service).",
    advice: { explicitBucketBoundaries: START_BUCKETS },
  });
  const waits = meter.createHistogram('ci_runner_docker_services_wait_duration_seconds', {
    description: "Time a job waited for its services' ports, by result (up, not_up: the job went on with a warning).",
    advice: { explicitBucketBoundaries: WAIT_BUCKETS },
  });
  const running = meter.createUpDownCounter('ci_runner_docker_containers_running', {
    description: 'Containers the runner made that run now, by type (build: during a stage; service: for the whole job).',
  });
  return (runner) => ({
    imagePull: ({ policy, result, seconds }) => pulls.record(seconds, { runner, pull_policy: policy, result }),
    containerStarted: ({ type, seconds }) => starts.record(seconds, { runner, type }),
    containersRunning: ({ type, change }) => running.add(change, { runner, type }),
    servicesWaited: ({ result, seconds }) => waits.record(seconds, { runner, result }),
  });
}
