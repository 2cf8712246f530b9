// The runner's job tracing, loaded once something may ask for a trace: the [otel] table or the
// OTEL_* environment (the operator's exporter), or a GitLab runner, whose coordinator may ask for
// a job's trace in its payload (features.tracing) - at start, or when a reload adds one. Until then
// the exporters are not even imported (about 50 ms of start-up on Node, for a runner that never
// traces).
import type { Meter } from '@opentelemetry/api';
import { shownUrl } from '../config/otel-config.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import type { JobTracer } from '../job/job-trace.ts';
import type { Logger } from '../log/logger.ts';
import { type OtlpSettings, otlpSettings, type SpanBatchSettings, spanBatchSettings } from '../telemetry/otlp-settings.ts';
import type { OtlpTracing } from '../telemetry/otlp-traces.ts';

export interface RunnerTracing {
  /** The agent's tracer: the loaded tracing's; until it is loaded no job is traced. */
  readonly tracer: JobTracer;
  /** Where the spans go, for the log; undefined until loaded. */
  readonly describe: Readonly<Record<string, string>> | undefined;
  /**
   * Loads the tracing when `config` may ask for traces and it is not loaded yet; resolves with
   * whether this call loaded it. Rejects with a ConfigError naming a file that cannot be read.
   */
  load(config: Config): Promise<boolean>;
  /** Registers the tracing's counters on `meter`, now or once it is loaded. */
  attach(meter: Meter): void;
  /** Sends what the loaded tracing holds, and stops. */
  shutdown(): Promise<void>;
}

/** A coordinator of this kind may ask for a job's trace. */
function hasGitLabRunner(config: Config): boolean {
  return config.runners.some((runner) => runner.url !== undefined);
}

/**
 * The tracing of `config` (its [otel] table) and the environment. A bad setting is a ConfigError
 * now, before anything starts, whether or not the tracing is ever loaded.
 */
export function runnerTracing(config: Config, env: Readonly<Record<string, string | undefined>>, logger: Logger): RunnerTracing {
  let settings: OtlpSettings | undefined;
  let batches: SpanBatchSettings;
  try {
    settings = otlpSettings('traces', config.otel, env);
    batches = spanBatchSettings(env);
  } catch (error) {
    throw new ConfigError((error as Error).message, { cause: error });
  }
  let loaded: OtlpTracing | undefined;
  let loading: Promise<void> | undefined;
  let meter: Meter | undefined;
  const load = async (): Promise<void> => {
    const { otlpTracing } = await import('../telemetry/otlp-traces.ts');
    try {
      loaded = otlpTracing(settings, batches, { warn: (message, fields) => logger.warn(message, fields) });
    } catch (error) {
      throw new ConfigError((error as Error).message, { cause: error });
    }
    if (meter !== undefined) loaded.attach(meter);
  };
  return {
    tracer: { startJob: (runner, job) => loaded?.tracer.startJob(runner, job) },
    get describe(): Readonly<Record<string, string>> | undefined {
      if (loaded === undefined) return undefined;
      return settings === undefined
        ? { endpoint: "the coordinator's, for the jobs it asks to trace" }
        : { endpoint: shownUrl(settings.url), protocol: settings.protocol };
    },
    async load(next) {
      if (loading !== undefined || (settings === undefined && !hasGitLabRunner(next))) return false;
      loading = load();
      try {
        await loading;
      } catch (error) {
        // A later reload tries again.
        loading = undefined;
        throw error;
      }
      return true;
    },
    attach(given) {
      meter = given;
      loaded?.attach(given);
    },
    shutdown: () => loaded?.shutdown() ?? Promise.resolve(),
  };
}
