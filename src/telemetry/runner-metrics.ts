// The runner's own metrics (ci_runner_*), observed from the agent's read-only view.
import type { Meter } from '@opentelemetry/api';
import type { RunnerStatus } from '../job/status.ts';
import { versionInfo } from '../version.ts';
import { architecture, operatingSystem, runtime } from '../runtime/runtime.ts';
import { frozenAttributes } from './attribute-sets.ts';

export function registerRunnerMetrics(meter: Meter, agent: RunnerStatus, systemId: string): void {
  const version = meter.createObservableGauge('ci_runner_version_info', {
    description: 'A metric with a constant 1 value labeled by build and runtime information.',
  });
  const labels = {
    name: versionInfo.name,
    version: versionInfo.version,
    revision: versionInfo.revision,
    branch: versionInfo.branch,
    built_at: versionInfo.builtAt,
    os: operatingSystem,
    architecture,
    runtime: runtime.name,
    runtime_version: runtime.version,
    system_id: systemId,
  };
  const frozen = frozenAttributes(labels);
  version.addCallback((result) => result.observe(1, frozen));

  const concurrent = meter.createObservableGauge('ci_runner_concurrent', {
    description: 'The current value of the concurrent setting: jobs that may run at once across all runners.',
  });
  concurrent.addCallback((result) => result.observe(agent.config.concurrent));
}
