// A job file's `traceparent` and `tracestate`: the W3C Trace Context the job's trace joins.
//
//   traceparent = "00-<trace id>-<span id>-01"   # the flags decide: 01 sampled, 00 not (no span is sent)
//   tracestate = "vendor=value,tenant@system=x"  # optional, needs traceparent; TRACESTATE of the stages
import { describeValue } from '../../config/describe-value.ts';
import type { JobTraceContext } from '../../job/model.ts';

/**
 * A W3C traceparent: version, trace id, parent span id, flags. A version after 00 may carry more
 * fields after the flags (the recommendation: read the first four); 00 has exactly four.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/s;

/** The W3C tracestate's keys: a simple key, or tenant@system. */
const TRACESTATE_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
/** Its values: printable ASCII but `,` and `=`, spaces inside only. */
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
/** The entries a tracestate holds at most (W3C). */
const MAX_TRACESTATE_ENTRIES = 32;
/** The length every vendor must pass on (W3C): a longer tracestate could be cut anywhere on its way. */
export const MAX_TRACESTATE_LENGTH = 512;

type Fail = (key: string, message: string) => never;

/** The trace context of `traceparent` and `tracestate` (undefined without a traceparent); calls `fail` naming a bad one. */
export function parseTraceContext(traceparent: unknown, tracestate: unknown, fail: Fail): JobTraceContext | undefined {
  if (traceparent === undefined) {
    if (tracestate !== undefined) fail('tracestate', 'needs traceparent: a tracestate goes with the trace it belongs to');
    return undefined;
  }
  const match = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent.trim()) : null;
  const [, version, traceId, parentSpanId, flags, more] = match ?? [];
  if (match === null || version === 'ff' || (version === '00' && more !== undefined) || /^0+$/.test(traceId!) || /^0+$/.test(parentSpanId!)) {
    return fail(
      'traceparent',
      `expected a W3C traceparent such as "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", got ${describeValue(traceparent)}`,
    );
  }
  const traceState = tracestate === undefined ? undefined : parseTracestate(tracestate, fail);
  return { traceId: traceId!, parentSpanId: parentSpanId!, traceFlags: Number.parseInt(flags!, 16), endpoints: [], ...(traceState ? { traceState } : {}) };
}

/** A W3C tracestate, its entries as given (empty ones left out), or `fail` naming what is wrong with it. */
function parseTracestate(value: unknown, fail: Fail): string {
  const expected =
    `expected a W3C tracestate such as "vendor=value,tenant@system=x" (at most ${MAX_TRACESTATE_ENTRIES} entries, ${MAX_TRACESTATE_LENGTH} characters)`;
  if (typeof value !== 'string') return fail('tracestate', `${expected}, got ${describeValue(value)}`);
  if (value.length > MAX_TRACESTATE_LENGTH) return fail('tracestate', `${expected}, got one of ${value.length} characters`);
  const entries = value.split(',').map((entry) => entry.replace(/^[ \t]+|[ \t]+$/g, '')).filter((entry) => entry !== '');
  const keys = new Set<string>();
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const key = entry.slice(0, at);
    if (at < 0 || !TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(entry.slice(at + 1))) {
      return fail('tracestate', `${expected}, got ${describeValue(value)} (the entry ${JSON.stringify(entry)} is not key=value)`);
    }
    if (keys.has(key)) return fail('tracestate', `${expected}, got ${describeValue(value)} (the key ${JSON.stringify(key)} twice)`);
    keys.add(key);
  }
  if (entries.length === 0 || entries.length > MAX_TRACESTATE_ENTRIES) return fail('tracestate', `${expected}, got ${entries.length} entries`);
  return entries.join(',');
}
