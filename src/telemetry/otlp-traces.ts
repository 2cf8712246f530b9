// The jobs' traces over OTLP: a tracer provider of the runner's own (never the global one, so a
// job's spans cannot mix with a library's), a batch span processor with a bounded queue, and the
// exports counted like the metrics'. A collector that cannot be reached costs a job nothing: spans
// wait in the queue, past it they are dropped and counted.
import type { Meter } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { JobTracer } from '../job/job-trace.ts';
import { versionInfo } from '../version.ts';
import { jobTracer } from './job-tracing.ts';
import { CountedExporter, exportOptions, exportsCounter, type PushLog } from './otlp-push.ts';
import type { OtlpMetricsSettings } from './otlp-settings.ts';

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

export function otlpTracing(settings: OtlpMetricsSettings, log: PushLog): OtlpTracing {
  const options = exportOptions(settings);
  const inner = settings.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
  let exports: ReturnType<Meter['createCounter']> | undefined;
  let dropped: ReturnType<Meter['createCounter']> | undefined;
  let queued = 0;
  const exporter = new CountedExporter<ReadableSpan[]>(
    inner,
    'traces',
    (result, spans) => {
      exports?.add(1, { signal: 'traces', result });
      if (result === 'failure') dropped?.add(spans.length, { reason: 'export_failed' });
    },
    settings.url,
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
    scheduledDelayMillis: settings.intervalMs,
    exportTimeoutMillis: settings.timeoutMs,
  });
  // Counts what the batch processor drops when its queue is full (it only says so to its diag log).
  const counting: SpanProcessor = {
    onStart: (span, context) => batches.onStart(span, context),
    onEnd: (span) => {
      if (queued >= MAX_QUEUED_SPANS) dropped?.add(1, { reason: 'queue_full' });
      else queued++;
      batches.onEnd(span);
    },
    forceFlush: () => batches.forceFlush(),
    shutdown: () => batches.shutdown(),
  };
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ ...settings.resourceAttributes, 'service.name': settings.serviceName })),
    spanProcessors: [counting],
  });
  return {
    tracer: jobTracer(provider.getTracer('runner', versionInfo.version)),
    attach(meter) {
      exports = exportsCounter(meter);
      for (const result of ['success', 'failure']) exports.add(0, { signal: 'traces', result });
      dropped = meter.createCounter('ci_runner_otlp_dropped_spans_total', {
        description: 'Spans not sent: the queue was full, or their export failed.',
      });
      for (const reason of ['queue_full', 'export_failed']) dropped.add(0, { reason });
    },
    shutdown: () => provider.shutdown(),
  };
}
