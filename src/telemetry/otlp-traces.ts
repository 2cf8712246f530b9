// The jobs' traces over OTLP: a tracer provider of the runner's own (never the global one, so a
// job's spans cannot mix with a library's), a batch span processor with a bounded queue, and the
// exports counted like the metrics'. A collector that cannot be reached costs a job nothing: spans
// wait in the queue, past it they are dropped and counted.
import type { Meter } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { JobTracer } from '../job/job-trace.ts';
import { versionInfo } from '../version.ts';
import { jobTracer } from './job-tracing.ts';
import { CountedExporter, exportsCounter, type PushLog, tlsOf } from './otlp-push.ts';
import { DEFAULT_SPAN_DELAY_MS, type OtlpSettings } from './otlp-settings.ts';
import { spanExporter, type SpanExportTarget } from './otlp-span-exporter.ts';

/** Spans waiting to be sent, at most (the SDK's default); past it they are dropped and counted. */
const MAX_QUEUED_SPANS = 2048;
const MAX_BATCH = 512;

export interface OtlpTracing {
  readonly tracer: JobTracer;
  /** Registers the export and drop counters on the provider's meter. */
  attach(meter: Meter): void;
  /** Sends what is queued (within the export timeout) and stops. */
  shutdown(): Promise<void>;
}

type Counter = ReturnType<Meter['createCounter']>;

/** The counters, once attached; the exports made before are not counted. */
interface Counters {
  exports?: Counter;
  dropped?: Counter;
}

/** A batch span processor sending to `target`, its exports and drops counted. */
function countedBatches(target: SpanExportTarget, intervalMs: number, exportTimeoutMs: number, counters: Counters, log: PushLog): SpanProcessor {
  const inner = spanExporter(target);
  let queued = 0;
  const exporter = new CountedExporter<ReadableSpan[]>(
    inner,
    'traces',
    (result, spans) => {
      counters.exports?.add(1, { signal: 'traces', result });
      if (result === 'failure') counters.dropped?.add(spans.length, { reason: 'export_failed' });
    },
    target.url,
    log,
  );
  const batches = new BatchSpanProcessor({
    export: (spans, done) => {
      queued = Math.max(0, queued - spans.length);
      exporter.export(spans, done);
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush(),
  }, {
    maxQueueSize: MAX_QUEUED_SPANS,
    maxExportBatchSize: MAX_BATCH,
    scheduledDelayMillis: intervalMs,
    exportTimeoutMillis: exportTimeoutMs,
  });
  // Counts what the batch processor drops when its queue is full (it only says so to its diag log).
  return {
    onStart: (span, context) => batches.onStart(span, context),
    onEnd: (span) => {
      if (queued >= MAX_QUEUED_SPANS) counters.dropped?.add(1, { reason: 'queue_full' });
      else queued++;
      batches.onEnd(span);
    },
    forceFlush: () => batches.forceFlush(),
    shutdown: () => batches.shutdown(),
  };
}

function providerOf(processors: SpanProcessor[], serviceName: string, attributes: Readonly<Record<string, string>>): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ ...attributes, 'service.name': serviceName })),
    spanProcessors: processors,
  });
}

/** How long the spans of a job sent to its coordinator's endpoints may take to go, at the job's end. */
const JOB_ENDPOINT_TIMEOUT_MS = 10_000;

/**
 * Job tracing: to the operator's exporter (`settings`, from [otel] or the environment), or, for a
 * job whose coordinator names endpoints (GitLab's features.tracing), to those, with a provider of
 * the job's own that is shut down (and so flushed) when the job ends, as GitLab Runner does.
 */
export function otlpTracing(settings: OtlpSettings | undefined, log: PushLog): OtlpTracing {
  const counters: Counters = {};
  const operator = settings === undefined ? undefined : providerOf(
    [countedBatches({ ...settings, tls: tlsOf(settings) }, settings.intervalMs, settings.timeoutMs, counters, log)],
    settings.serviceName,
    settings.resourceAttributes,
  );
  const operatorTracer = operator?.getTracer('runner', versionInfo.version);
  let startFailed = false;
  const tracer = jobTracer((job) => {
    const endpoints = job.job.traceContext?.endpoints ?? [];
    if (endpoints.length === 0) return operatorTracer === undefined ? undefined : { tracer: operatorTracer };
    // Only what the payload gives (as GitLab Runner's exporterForEndpoint): none of the operator's headers, certificates or compression.
    const processors = endpoints.map((url) =>
      countedBatches(
        { url, protocol: 'http/protobuf', headers: {}, compression: 'none', tls: {}, timeoutMs: JOB_ENDPOINT_TIMEOUT_MS },
        DEFAULT_SPAN_DELAY_MS,
        JOB_ENDPOINT_TIMEOUT_MS,
        counters,
        log,
      )
    );
    const provider = providerOf(processors, settings?.serviceName ?? 'runner', settings?.resourceAttributes ?? {});
    return { tracer: provider.getTracer('runner', versionInfo.version), finished: () => void provider.shutdown().catch(() => undefined) };
  }, (error, job) => {
    // Once: a cause that fails one job's trace (a certificate file gone) would fail every job's.
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
      counters.exports = exports;
      counters.dropped = dropped;
    },
    shutdown: () => operator?.shutdown() ?? Promise.resolve(),
  };
}
