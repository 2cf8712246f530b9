// A RunnerStatus that stands still, for tests of what reads one (routes, metrics).
import { type Config, DEFAULT_CONFIG } from '../../src/config/types.ts';
import type { JobView, RunnerStatus } from '../../src/job/status.ts';

export function fixedStatus(config: Config = { ...DEFAULT_CONFIG, runners: [] }, jobs: readonly JobView[] = []): RunnerStatus {
  return {
    config,
    state: 'running',
    isReady: () => true,
    runningJobs: () => jobs,
    requestsInFlight: () => new Map(),
    runnersTakingJobs: () => new Set(config.runners.map((runner) => runner.name)),
    pendingJobs: () => new Map(),
    configurationLoads: 1,
    configurationLoadErrors: 0,
    lastConfigurationLoadSucceeded: true,
  };
}
