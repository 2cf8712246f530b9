// promtool (Debian `prometheus`), and the one lint finding the runner accepts.
import assert from 'node:assert/strict';
import type { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';

/**
 * Runs promtool with `input` on its stdin; resolves with its exit status and
 * stdout and stderr together. Spawned asynchronously: a coordinator or a
 * runner in the test process must keep answering meanwhile.
 */
export function promtool(args: readonly string[], input: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

/** prom-client's gauges whose names end in `_total`: the runner keeps the names so that Node.js dashboards work. */
export const GAUGES_NAMED_TOTAL: readonly string[] = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * The lint findings the runner accepts, each for a name fixed outside it:
 * GAUGES_NAMED_TOTAL, and `cicd_worker_count`, the OpenTelemetry CI/CD
 * conventions' cicd.worker.count (a gauge whose name ends in `_count`): the
 * OTLP push must carry the conventions' name, and no unit or view gives
 * /metrics another one (docs/opentelemetry.md, "On /metrics"). The lint for
 * exactly these metrics is the only finding a test accepts.
 */
const ACCEPTED_FINDINGS: readonly { readonly metric: string; readonly type: string; readonly finding: string }[] = [
  ...GAUGES_NAMED_TOTAL.map((metric) => ({ metric, type: 'gauge', finding: 'non-counter metrics should not have "_total" suffix' })),
  { metric: 'cicd_worker_count', type: 'gauge', finding: 'non-histogram and non-summary metrics should not have "_count" suffix' },
];

/** promtool's exit status when it found lint problems only. */
const LINT_PROBLEMS = 3;

/**
 * Asserts that `promtool check metrics`, given `exposition`, answered
 * `code` and `output` (stdout and stderr together) with no finding but the
 * accepted lint for exactly those of ACCEPTED_FINDINGS the exposition has.
 */
export function assertPromtoolAccepts(exposition: string, code: number | null, output: string): void {
  const present = ACCEPTED_FINDINGS.filter(({ metric, type }) => exposition.includes(`\n# TYPE ${metric} ${type}\n`));
  const expected = present.map(({ metric, finding }) => `${metric} ${finding}`).sort();
  const found = output.split('\n').map((line) => line.trim()).filter((line) => line !== '').sort();
  assert.deepEqual(found, expected, `promtool check metrics said:\n${output}`);
  assert.equal(code, expected.length === 0 ? 0 : LINT_PROBLEMS, `promtool check metrics exit status; it said:\n${output}`);
}
