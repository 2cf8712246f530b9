// A job file's traceparent and tracestate: the W3C Trace Context as the recommendation reads it,
// and one-line errors naming what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../../src/config/validate.ts';
import { parseJobFile } from '../../../../src/sources/local/job-file.ts';
import { jobFileText } from '../../../../src/sources/local/queue.ts';

const JOB = 'name = "build"\nscript = ["make"]\n';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function read(lines: string): ReturnType<typeof parseJobFile> {
  return parseJobFile(`${JOB}${lines}`, 'job.toml');
}

function error(lines: string): string {
  try {
    read(lines);
  } catch (caught) {
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.ok(!caught.message.includes('\n'), caught.message);
    return caught.message;
  }
  return assert.fail(`no error for ${lines}`);
}

test('traceparent: the flags are kept (00: not sampled); a later version may carry more fields, which are not read', () => {
  assert.deepEqual(read(`traceparent = "00-${TRACE_ID}-${SPAN_ID}-01"\n`).traceContext, {
    traceId: TRACE_ID,
    parentSpanId: SPAN_ID,
    traceFlags: 1,
    endpoints: [],
  });
  assert.equal(read(`traceparent = "00-${TRACE_ID}-${SPAN_ID}-00"\n`).traceContext?.traceFlags, 0);
  const later = read(`traceparent = "cc-${TRACE_ID}-${SPAN_ID}-01-what-comes-next"\n`).traceContext;
  assert.deepEqual([later?.traceId, later?.parentSpanId, later?.traceFlags], [TRACE_ID, SPAN_ID, 1]);
});

test('traceparent refused: version ff, version 00 with more fields, a fifth field not after a dash, zero ids, upper case', () => {
  const expected = 'expected a W3C traceparent such as "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", got the string';
  for (
    const value of [
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-01-more`,
      `cc-${TRACE_ID}-${SPAN_ID}-01more`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
    ]
  ) {
    assert.equal(error(`traceparent = "${value}"\n`), `job.toml: traceparent: ${expected} ${JSON.stringify(value)}`);
  }
});

test('tracestate: W3C entries, blank ones left out, carried with the trace; written back by jobFileText', () => {
  const spec = read(`traceparent = "00-${TRACE_ID}-${SPAN_ID}-00"\ntracestate = "congo=t61rcWkgMzE , , tenant@vendor=a b\t"\n`);
  assert.equal(spec.traceContext?.traceState, 'congo=t61rcWkgMzE,tenant@vendor=a b');
  assert.deepEqual(parseJobFile(jobFileText(spec), 'again.toml'), spec);
  const maximal = Array.from({ length: 32 }, (_, i) => `k${i}=${'v'.repeat(10)}`).join(',');
  assert.equal(read(`traceparent = "00-${TRACE_ID}-${SPAN_ID}-01"\ntracestate = "${maximal}"\n`).traceContext?.traceState, maximal);
});

test('tracestate refused: bad keys or values, a key twice, too many entries or characters, no traceparent', () => {
  const parent = `traceparent = "00-${TRACE_ID}-${SPAN_ID}-01"\n`;
  const expected = 'job.toml: tracestate: expected a W3C tracestate such as "vendor=value,tenant@system=x" (at most 32 entries, 512 characters), got';
  assert.equal(error(`${parent}tracestate = "Upper=x"\n`), `${expected} the string "Upper=x" (the entry "Upper=x" is not key=value)`);
  assert.equal(error(`${parent}tracestate = "a=1,novalue"\n`), `${expected} the string "a=1,novalue" (the entry "novalue" is not key=value)`);
  assert.equal(error(`${parent}tracestate = "a=x=y"\n`), `${expected} the string "a=x=y" (the entry "a=x=y" is not key=value)`);
  assert.equal(error(`${parent}tracestate = "a=b c=d"\n`), `${expected} the string "a=b c=d" (the entry "a=b c=d" is not key=value)`);
  assert.equal(error(`${parent}tracestate = "a=1,b=2,a=3"\n`), `${expected} the string "a=1,b=2,a=3" (the key "a" twice)`);
  assert.equal(error(`${parent}tracestate = ""\n`), `${expected} 0 entries`);
  const many = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',');
  assert.equal(error(`${parent}tracestate = "${many}"\n`), `${expected} 33 entries`);
  assert.equal(error(`${parent}tracestate = "a=${'v'.repeat(511)}"\n`), `${expected} one of 513 characters`);
  assert.equal(error(`${parent}tracestate = 5\n`), `${expected} integer 5`);
  assert.equal(error('tracestate = "a=1"\n'), 'job.toml: tracestate: needs traceparent: a tracestate goes with the trace it belongs to');
});
