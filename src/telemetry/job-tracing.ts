// Every job a trace: a span for the job (a CI/CD task run in the OpenTelemetry conventions) and a
// child span for each build stage, sent over OTLP in batches. The processes of a stage join its
// span through TRACEPARENT (see src/build/shell/trace-context.ts).
import {
  type Attributes,
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_NAME,
  ATTR_CICD_PIPELINE_TASK_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_RUN_RESULT,
  ATTR_CICD_PIPELINE_TASK_RUN_URL_FULL,
  ATTR_CICD_WORKER_ID,
  ATTR_CICD_WORKER_NAME,
  ATTR_ERROR_TYPE,
} from '@opentelemetry/semantic-conventions/incubating';
import type { JobTraceHandle, JobTracer, SpanIds, TraceCarrier } from '../job/job-trace.ts';
import type { BuildStage, JobResult } from '../job/result.ts';
import type { JobTraceContext } from '../job/model.ts';
import type { SourceJob } from '../job/source.ts';
import { pipelineName, publicValue, taskRunResult, vcsAttributes } from './cicd-attributes.ts';

/** The runner's own span attributes (no convention has them). */
export const ATTR_STAGE = 'ci_runner.job.stage';
export const ATTR_CPU_SECONDS = 'ci_runner.job.cpu_seconds';
export const ATTR_PEAK_MEMORY_BYTES = 'ci_runner.job.peak_memory_bytes';
export const ATTR_LOG_BYTES = 'ci_runner.job.log_bytes';
export const ATTR_EXIT_CODE = 'ci_runner.job.exit_code';

const propagator = new W3CTraceContextPropagator();

function jobAttributes(runner: { readonly name: string; readonly systemId: string }, job: SourceJob): Attributes {
  const variables = job.job.variables;
  const attributes: Attributes = {
    [ATTR_CICD_PIPELINE_TASK_NAME]: job.name,
    [ATTR_CICD_PIPELINE_TASK_RUN_ID]: job.id,
    [ATTR_CICD_WORKER_NAME]: runner.name,
    [ATTR_CICD_WORKER_ID]: runner.systemId,
    ...vcsAttributes(job.job),
  };
  const put = (key: string, value: string | undefined): void => {
    if (value !== undefined) attributes[key] = value;
  };
  put(ATTR_CICD_PIPELINE_NAME, pipelineName(job.job));
  put(ATTR_CICD_PIPELINE_RUN_ID, publicValue(variables, 'CI_PIPELINE_ID'));
  if (/^https?:\/\//.test(job.url)) put(ATTR_CICD_PIPELINE_TASK_RUN_URL_FULL, job.url);
  return attributes;
}

class TracedJob implements JobTraceHandle {
  private stageSpan: { stage: BuildStage; span: Span } | undefined;
  readonly jobSpan: SpanIds | undefined;

  constructor(private readonly tracer: Tracer, private readonly span: Span, private readonly finished?: () => void) {
    // A span the sampler dropped is never sent: a link to it would lead nowhere.
    const { traceId, spanId, traceFlags } = span.spanContext();
    this.jobSpan = (traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? { traceId, spanId } : undefined;
  }

  stageStarted(stage: BuildStage): void {
    this.stageSpan?.span.end();
    const span = this.tracer.startSpan(stage, { kind: SpanKind.INTERNAL, attributes: { [ATTR_STAGE]: stage } }, trace.setSpan(ROOT_CONTEXT, this.span));
    this.stageSpan = { stage, span };
  }

  stageEnded(stage: BuildStage, failed = false): void {
    if (this.stageSpan?.stage !== stage) return;
    if (failed) this.stageSpan.span.setStatus({ code: SpanStatusCode.ERROR });
    this.stageSpan.span.end();
    this.stageSpan = undefined;
  }

  carrier(): TraceCarrier {
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.stageSpan?.span ?? this.span), carrier, {
      set: (target, key, value) => {
        target[key] = value;
      },
    });
    return { traceparent: carrier['traceparent'] ?? '', tracestate: carrier['tracestate'] };
  }

  event(name: string, attributes?: Readonly<Record<string, string | number>>): void {
    (this.stageSpan?.span ?? this.span).addEvent(name, attributes);
  }

  finish(result: JobResult): void {
    if (this.stageSpan !== undefined) this.stageEnded(this.stageSpan.stage);
    const attributes: Attributes = { [ATTR_CICD_PIPELINE_TASK_RUN_RESULT]: taskRunResult(result), [ATTR_LOG_BYTES]: result.log.receivedBytes };
    if (result.state !== 'success') attributes[ATTR_ERROR_TYPE] = result.failureReason ?? result.state;
    if (result.exitCode !== undefined) attributes[ATTR_EXIT_CODE] = result.exitCode;
    // Absent where the executor could not measure them: never a made-up zero.
    if (result.resources !== undefined) {
      attributes[ATTR_CPU_SECONDS] = result.resources.cpuSeconds;
      if (result.resources.peakRssBytes !== undefined) attributes[ATTR_PEAK_MEMORY_BYTES] = result.resources.peakRssBytes;
    }
    this.span.setAttributes(attributes);
    if (result.state !== 'success') this.span.setStatus({ code: SpanStatusCode.ERROR, message: result.failureReason ?? result.state });
    this.span.end();
    this.finished?.();
  }
}

/** Where a job's spans go: a tracer, and what to do once the job's span has ended. */
export interface JobSpanTarget {
  readonly tracer: Tracer;
  readonly finished?: () => void;
}

/**
 * The remote span a joined job's span is a child of, with its flags: the provider's sampler decides
 * from them (the default, parent-based, sends nothing of a job whose parent is not sampled).
 */
function parentOf(joined: JobTraceContext | undefined): Context {
  if (joined === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: joined.traceId,
    spanId: joined.parentSpanId,
    traceFlags: joined.traceFlags,
    isRemote: true,
    ...(joined.traceState === undefined ? {} : { traceState: createTraceState(joined.traceState) }),
  });
}

/**
 * A JobTracer: each job a trace of its own, or a part of the trace its coordinator names
 * (the job span a child of its span_parent_id). `target` picks the tracer; none: not traced.
 * Telemetry never fails a job: whatever goes wrong in starting its trace (an exporter refusing
 * an endpoint, a certificate file gone) goes to `failed`, and the job runs untraced.
 */
export function jobTracer(target: (job: SourceJob) => JobSpanTarget | undefined, failed: (error: unknown, job: SourceJob) => void): JobTracer {
  return {
    startJob(runner, job) {
      try {
        const chosen = target(job);
        if (chosen === undefined) return undefined;
        const span = chosen.tracer.startSpan(job.name, { kind: SpanKind.INTERNAL, attributes: jobAttributes(runner, job) }, parentOf(job.job.traceContext));
        return new TracedJob(chosen.tracer, span, chosen.finished);
      } catch (error) {
        failed(error, job);
        return undefined;
      }
    },
  };
}
