// The jobs' traces over OTLP: a tracer provider of the runner's own (never the global one, so a
// job's spans cannot mix with a library's), batch span processors with bounded queues
// (span-batches.ts), and the exports counted like the metrics'. A collector that cannot be reached
// costs a job nothing: spans wait in the queue, past it they are dropped and counted.
import type { Meter } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { JobTracer } from '../job/job-trace.ts';
import { versionInfo } from '../version.ts';
import { jobTracer } from './job-tracing.ts';
import { exportsCounter, type PushLog, tlsOf, WarnOnce } from './otlp-push.ts';
import { type OtlpSettings, serviceResource, type SpanBatchSettings } from './otlp-settings.ts';
import { countedBatches, type SpanBatchContext } from './span-batches.ts';

export interface OtlpTracing {
  readonly tracer: JobTracer;
  /** Registers the export and drop counters on the provider's meter. */
  attach(meter: Meter): void;
  /** Sends what is queued (within the export timeout), waits for the ended jobs' spans still going to their coordinator's endpoints (JOB_FLUSH_MS at most), and stops. */
  shutdown(): Promise<void>;
}

/** `sampler` undefined: the SDK's, from OTEL_TRACES_SAMPLER (default parentbased_always_on). */
function providerOf(
  processors: SpanProcessor[],
  serviceName: string,
  attributes: Readonly<Record<string, string>>,
  sampler?: Sampler,
): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes(serviceResource(serviceName, attributes))),
    spanProcessors: processors,
    ...(sampler === undefined ? {} : { sampler }),
  });
}

/** How long one export of a job's spans to its coordinator's endpoints may take (the exporters' default). */
const JOB_ENDPOINT_TIMEOUT_MS = 10_000;
/** How long a job's spans may take to reach its coordinator's endpoints once it ended (GitLab Runner's wait). */
const JOB_FLUSH_MS = 5_000;

/** Resolves when `promise` has, or when `ms` have passed: whichever comes first. */
function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise, waited]).finally(() => clearTimeout(timer));
}

/**
 * Job tracing: to the operator's exporter (`settings`, from [otel] or the environment), or, for a
 * job whose coordinator names endpoints (GitLab's features.tracing), to those, with a provider of
 * the job's own that is shut down (and so flushed) when the job ends, as GitLab Runner does.
 * `batches`: how every processor queues and sends. Throws naming a TLS file of `settings` that
 * cannot be read.
 */
export function otlpTracing(settings: OtlpSettings | undefined, batches: SpanBatchSettings, log: PushLog): OtlpTracing {
  const context: SpanBatchContext = { counters: {}, batches, warnings: new WarnOnce(log) };
  const operator = settings === undefined
    ? undefined
    : providerOf([countedBatches({ ...settings, tls: tlsOf(settings) }, context)], settings.serviceName, settings.resourceAttributes);
  const operatorTracer = operator?.getTracer('runner', versionInfo.version);
  // The job providers still sending (shutting down) after their job ended: the runner's exit waits for them.
  const flushing = new Set<Promise<void>>();
  let startFailed = false;
  const tracer = jobTracer((job) => {
    const endpoints = job.job.traceContext?.endpoints ?? [];
    if (endpoints.length === 0) return operatorTracer === undefined ? undefined : { tracer: operatorTracer };
    // Only what the payload gives: none of the operator's headers, certificates or compression (stricter than GitLab
    // Runner, whose Go exporter would apply OTEL_EXPORTER_OTLP_* here too): a server that names an endpoint gets no credentials.
    const processors = endpoints.map((url) =>
      countedBatches({ url, protocol: 'http/protobuf', headers: {}, compression: 'none', tls: {}, timeoutMs: JOB_ENDPOINT_TIMEOUT_MS }, context)
    );
    // Always sampled, whatever OTEL_TRACES_SAMPLER says of the operator's traces: the coordinator asked for this one (GitLab Runner's AlwaysSample).
    const provider = providerOf(processors, settings?.serviceName ?? 'runner', settings?.resourceAttributes ?? {}, new AlwaysOnSampler());
    const finished = (): void => {
      const flushed: Promise<void> = within(provider.shutdown().catch(() => undefined), JOB_FLUSH_MS).finally(() => flushing.delete(flushed));
      flushing.add(flushed);
    };
    return { tracer: provider.getTracer('runner', versionInfo.version), finished };
  }, (error, job) => {
    // Once: a cause that fails one job's trace would fail every job's.
    if (startFailed) return;
    startFailed = true;
    log.warn("A job's trace could not be started: the job runs untraced; later such failures are not logged", {
      job: job.id,
      error: error instanceof Error ? error.message : String(error),
    });
  });
  return {
    tracer,
    attach(meter) {
      const exports = exportsCounter(meter);
      for (const result of ['success', 'failure']) exports.add(0, { signal: 'traces', result });
      const dropped = meter.createCounter('ci_runner_otlp_dropped_spans_total', {
        description: 'Spans not sent: the queue was full, or their export failed.',
      });
      for (const reason of ['queue_full', 'export_failed']) dropped.add(0, { reason });
      context.counters.exports = exports;
      context.counters.dropped = dropped;
    },
    shutdown: async () => {
      await Promise.all([operator?.shutdown(), ...flushing]);
    },
  };
}
