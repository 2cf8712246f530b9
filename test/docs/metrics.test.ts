// docs/metrics.md's "What each runtime measures" table agrees with the
// runtime support data that the registration of those metrics follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuntimeName } from '../../src/runtime/runtime.ts';
import { RUNTIME_METRIC_SUPPORT } from '../../src/telemetry/runtime-support.ts';
import { codeSpans, readDoc, tableUnder } from '../support/markdown.ts';

/** `a_{x,y}_b` as `a_x_b`, `a_y_b`. */
function expand(name: string): string[] {
  const match = /^(.*?)\{([^}]*)\}(.*)$/.exec(name);
  if (!match) return [name];
  return match[2]!.split(',').flatMap((part) => expand(`${match[1]}${part}${match[3]}`));
}

const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];

test('every process and runtime metric has one row in docs/metrics.md, saying yes or no as the support data does', () => {
  const [header, ...rows] = tableUnder(readDoc('docs/metrics.md'), 'What each runtime measures');
  assert.deepEqual(header, ['metric', 'Node', 'Bun', 'Deno']);
  const documented = new Map<string, Record<RuntimeName, boolean>>();
  for (const [metric = '', ...cells] of rows) {
    const says = (cell: string | undefined): boolean => {
      assert.match(cell ?? '', /^(yes|no)\b/, `a cell of the row ${metric} starts with yes or no`);
      return cell!.startsWith('yes');
    };
    const support = Object.fromEntries(RUNTIMES.map((name, i) => [name, says(cells[i])])) as Record<RuntimeName, boolean>;
    for (const name of codeSpans(metric).flatMap(expand)) {
      if (name.startsWith('ci_runner_')) continue;
      assert.ok(!documented.has(name), `${name} has two rows`);
      documented.set(name, support);
    }
  }
  assert.deepEqual(Object.fromEntries(documented), RUNTIME_METRIC_SUPPORT);
});
