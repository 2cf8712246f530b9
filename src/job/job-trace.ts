// A job's trace as the agent and the build sequence see it: a span for the job, one for each
// stage, and the W3C trace context the stage's processes join (TRACEPARENT/TRACESTATE, the
// OpenTelemetry environment-variable carrier). How spans are made and sent is the telemetry's.
import type { BuildStage, JobResult } from './result.ts';
import type { SourceJob } from './source.ts';

/** W3C Trace Context headers, as environment variables carry them. */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

/** What the build sequence tells a job's trace. */
export interface JobTrace {
  /** A stage begins (once per attempt). */
  stageStarted(stage: BuildStage): void;
  /** The stage under way ends; `failed`: it ended in an error. */
  stageEnded(stage: BuildStage, failed?: boolean): void;
  /** The context for processes started now: the stage under way's, else the job's. */
  carrier(): TraceCarrier;
  /** Something worth a mark on the stage under way (a retry, a pause before one). */
  event(name: string, attributes?: Readonly<Record<string, string | number>>): void;
}

/** A span's place in its trace, in W3C Trace Context's lowercase hex. */
export interface SpanIds {
  /** 32 hex digits. */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
}

/** A job's trace from its start to its result. */
export interface JobTraceHandle extends JobTrace {
  /** The job's span when it is sampled (its spans are sent); undefined: nothing outside could link to it. */
  readonly jobSpan: SpanIds | undefined;
  /** The job ended: its span gets the result and ends. */
  finish(result: JobResult): void;
}

/** Starts a trace for each job (the agent's hook). */
export interface JobTracer {
  /** Undefined: this job is not traced (nothing to send its spans to, or its trace could not be started). Never throws. */
  startJob(runner: { readonly name: string; readonly systemId: string }, job: SourceJob): JobTraceHandle | undefined;
}
