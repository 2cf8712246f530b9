import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { moduleExtension, runtime, scriptCommand } from '../../../src/runtime/runtime.ts';
import { collectOutput } from '../../support/child-output.ts';

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

const STARTUP_SCENARIO = fileURLToPath(new URL(`../../support/startup-garbage-scenario${moduleExtension(import.meta.url)}`, import.meta.url));

test(
  'releaseStartupGarbage: Deno gives back what a start dropped, Bun the code compiled for it, Node nothing',
  async () => {
    const [command, ...args] = scriptCommand(STARTUP_SCENARIO);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const { code, stdout, stderr } = await collectOutput(child).done;
    assert.equal(code, 0, `scenario exited ${code}: ${stderr}`);
    type Held = { resident: number; codeBlocks: number | null };
    const result = JSON.parse(stdout) as { did: string | null; before: Held; after: Held };
    if (runtime.name === 'node') {
      // Not on Node: the collection raises its RSS (src/runtime/gc.ts).
      assert.equal(result.did, null);
    } else if (runtime.name === 'bun') {
      assert.equal(result.did, 'shrunk');
      // 2,000 functions run once: their code goes, to be compiled again if they run again.
      assert.ok(result.before.codeBlocks! >= 2000, `${result.before.codeBlocks} code blocks before`);
      assert.ok(result.after.codeBlocks! < result.before.codeBlocks! / 10, `${result.before.codeBlocks} code blocks before, ${result.after.codeBlocks} after`);
    } else {
      assert.equal(result.did, 'collected');
      // 400,000 objects with their strings and arrays are several tens of MiB.
      const freed = result.before.resident - result.after.resident;
      assert.ok(freed > 8 * MiB, `resident ${result.before.resident} bytes before, ${result.after.resident} after`);
    }
  },
);
