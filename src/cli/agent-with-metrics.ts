// The agent together with the runner's whole metric set: what `runner run`
// serves at /metrics. Shared with bench/scrape.ts, so that the benchmark
// scrapes exactly the set the running agent has.
import { Agent } from '../agent/agent.ts';
import type { Config } from '../config/types.ts';
import type { JobTracer } from '../job/job-trace.ts';
import { executorFactory } from '../executors/executors.ts';
import type { Logger } from '../log/logger.ts';
import { sourceFactory } from '../sources/sources.ts';
import { registerApiMetrics, registerErrorMetrics, registerRequestConcurrency } from '../telemetry/api-metrics.ts';
import { registerCicdMetrics } from '../telemetry/cicd-metrics.ts';
import { registerExecutorMetrics } from '../telemetry/executor-metrics.ts';
import { registerJobMetrics } from '../telemetry/job-metrics.ts';
import { registerProcessMetrics } from '../telemetry/process-metrics.ts';
import { registerQueueMetrics } from '../telemetry/queue-metrics.ts';
import { registerRunnerMetrics } from '../telemetry/runner-metrics.ts';
import { registerRuntimeMetrics } from '../telemetry/runtime-metrics.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { shortToken } from '../job/short-token.ts';

/**
 * Registers every metric of the runner on `telemetry` and makes the agent
 * they observe (not started). The logger counts its entries into
 * ci_runner_errors_total from here on.
 */
export function agentWithMetrics(
  telemetry: Telemetry,
  config: Config,
  workingDirectory: string,
  logger: Logger,
  systemId: string,
  tracer?: JobTracer,
): Agent {
  logger.countWith(registerErrorMetrics(telemetry.meter));
  const jobMetrics = registerJobMetrics(telemetry.meter, telemetry.exemplars);
  const queueMetrics = registerQueueMetrics(telemetry.meter);
  const cicdMetrics = registerCicdMetrics(telemetry.meter);
  const apiMetrics = registerApiMetrics(telemetry.meter);
  const sources = sourceFactory(workingDirectory, logger, systemId, (runner) => {
    const api = apiMetrics(runner);
    const cicd = cicdMetrics.coordinatorObserver();
    return (call) => {
      api(call);
      cicd(call);
    };
  });
  const agent = new Agent(config, {
    logger,
    sources,
    executors: executorFactory(workingDirectory, {
      systemId,
      events: registerExecutorMetrics(telemetry.meter),
      removeLeftovers: true,
      onLeftoverError: (runner, error) => logger.warn('Could not remove the docker leftovers of an earlier run', { runner, error: error.message }),
    }),
    tracer,
    onJobStarted: (started) => {
      queueMetrics.jobStarted(started);
      cicdMetrics.jobStarted(started);
    },
    onJobFinished: (finished) => {
      jobMetrics.jobFinished(finished);
      cicdMetrics.jobFinished(finished);
    },
    onConfigurationFailed: () => cicdMetrics.configurationFailed(),
    systemId,
  });
  telemetry.nameWith(() => {
    const runners = new Map(agent.config.runners.map((runner) => [runner.name, runner]));
    return {
      names: agent.config.metricNames,
      systemId,
      runnerLabel: (name) => shortToken(runners.get(name)?.token) || name,
      executorOf: (name) => runners.get(name)?.executor,
    };
  });
  jobMetrics.observe(agent);
  queueMetrics.observe(agent);
  cicdMetrics.observe(agent);
  registerRequestConcurrency(telemetry.meter, agent);
  registerRunnerMetrics(telemetry.meter, agent, systemId);
  registerProcessMetrics(telemetry.meter);
  registerRuntimeMetrics(telemetry.meter);
  return agent;
}
