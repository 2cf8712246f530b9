// The trace context a stage's processes join, as the OpenTelemetry environment carrier passes it.
import type { TraceCarrier } from '../../job/job-trace.ts';

/**
 * The stage's script with TRACEPARENT (and TRACESTATE) exported first, the OpenTelemetry
 * environment carrier: tools the job runs join the stage's span. The job's own variables come
 * after, so a job that sets TRACEPARENT itself keeps its value.
 */
export function withTraceContext(script: string, carrier: TraceCarrier): string {
  const quote = (value: string): string => `'${value.replaceAll("'", "'\\''")}'`;
  const exports = [`export TRACEPARENT=${quote(carrier.traceparent)}`];
  if (carrier.tracestate !== undefined && carrier.tracestate !== '') exports.push(`export TRACESTATE=${quote(carrier.tracestate)}`);
  const newline = script.indexOf('\n');
  return newline < 0 ? `${exports.join('\n')}\n${script}` : `${script.slice(0, newline + 1)}${exports.join('\n')}\n${script.slice(newline + 1)}`;
}
