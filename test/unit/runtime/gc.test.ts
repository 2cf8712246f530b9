import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { runtime } from '../../../src/runtime/runtime.ts';

const MiB = 1024 * 1024;

/**
 * A fresh Node makes 600,000 long-lived objects (about 40 MiB, as an archive's entries live until
 * its end) and reports the young generation's size: during a hold if `hold`, then again after it.
 */
function youngGenerationSizes(hold: boolean): { during: number; after: number } {
  const gc = new URL('../../../src/runtime/gc.js', import.meta.url).href;
  const script = `
    import v8 from 'node:v8';
    const { holdYoungGeneration } = await import(${JSON.stringify(gc)});
    const newSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
    const kept = [];
    const survive = () => { for (let i = 0; i < 300000; i++) kept.push({ i, name: 'entry-' + i }); };
    const release = process.argv[1] === 'hold' ? holdYoungGeneration() : () => {};
    survive();
    const during = newSpace();
    release();
    survive();
    console.log(JSON.stringify({ during, after: newSpace() }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, hold ? 'hold' : 'free'], { encoding: 'utf8' });
  return JSON.parse(out) as { during: number; after: number };
}

test(
  'holdYoungGeneration: V8 does not grow the young generation while held, and grows it again once released',
  { skip: runtime.name !== 'node' && `a no-op on ${runtime.name} (see src/runtime/gc.ts)` },
  () => {
    const free = youngGenerationSizes(false);
    const held = youngGenerationSizes(true);
    assert.ok(free.during > 4 * MiB, `without a hold the young generation grew to ${free.during} bytes`);
    assert.ok(held.during <= 4 * MiB, `held, it stayed at ${held.during} bytes`);
    assert.ok(held.after > held.during, `released, it grew again (${held.during} -> ${held.after} bytes)`);
  },
);
