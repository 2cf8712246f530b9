// A batch span processor with a bounded queue, its exports and drops counted and its trouble
// logged once per endpoint: spans wait in the queue while a collector is slow or down, past the
// queue's size they are dropped. Neither ever holds up the job that made the spans.
import { type Meter, TraceFlags } from '@opentelemetry/api';
import { BatchSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { shownUrl } from '../config/otel-config.ts';
import { CountedExporter, type WarnOnce } from './otlp-push.ts';
import type { SpanBatchSettings } from './otlp-settings.ts';
import { spanExporter, type SpanExportTarget } from './otlp-span-exporter.ts';

type Counter = ReturnType<Meter['createCounter']>;

/** The counters, once attached; the exports made before are not counted. */
export interface SpanCounters {
  exports?: Counter;
  dropped?: Counter;
}

/** What the processors of a runner share: its counters, its batch settings, the warnings it has logged. */
export interface SpanBatchContext {
  readonly counters: SpanCounters;
  readonly batches: SpanBatchSettings;
  readonly warnings: WarnOnce;
}

/** A batch span processor sending to `target`. Throws on a URL that does not parse. */
export function countedBatches(target: SpanExportTarget, { counters, batches, warnings }: SpanBatchContext): SpanProcessor {
  const exporter = new CountedExporter<ReadableSpan[]>(
    spanExporter(target),
    'traces',
    (result, spans) => {
      counters.exports?.add(1, { signal: 'traces', result });
      if (result === 'failure') counters.dropped?.add(spans.length, { reason: 'export_failed' });
    },
    target.url,
    warnings,
  );
  // The spans in the processor's queue, counted as it counts them: it drops past its size saying so only to its diag log.
  let queued = 0;
  const processor = new BatchSpanProcessor({
    export: (spans, done) => {
      queued = Math.max(0, queued - spans.length);
      exporter.export(spans, done);
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush(),
  }, {
    maxQueueSize: batches.maxQueueSize,
    maxExportBatchSize: batches.maxExportBatchSize,
    scheduledDelayMillis: batches.scheduledDelayMs,
    exportTimeoutMillis: batches.exportTimeoutMs,
  });
  return {
    onStart: (span, context) => processor.onStart(span, context),
    onEnd: (span) => {
      // The processor queues sampled spans only.
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) {
        if (queued < batches.maxQueueSize) {
          queued++;
        } else {
          counters.dropped?.add(1, { reason: 'queue_full' });
          warnings.warn(
            `traces queue_full ${target.url}`,
            'OTLP traces queue full: spans are dropped; later drops there are only counted (ci_runner_otlp_dropped_spans_total)',
            {
              endpoint: shownUrl(target.url),
              max_queue_size: String(batches.maxQueueSize),
            },
          );
        }
      }
      processor.onEnd(span);
    },
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}
