// Bun's compiled executable: the runner's ES module bundle compiled to bytecode into a copy of the
// installed Bun (bun build --compile works offline from the Bun in node_modules).
//
// Its entry is bun-entry.ts, which answers --version and --help itself and imports the runner's
// bundle for anything else: with --splitting the bundle is a chunk of its own, which those
// answers never load. It is compiled twice: the first executable is started once as a user
// starts it (a training run, training-run.ts) with BUN_BYTECODE_ORDER_OUT, which records the
// functions that run used; the second is laid out by that record (--bytecode-order), the used
// bytecode together at the front, so a start reads and keeps fewer pages of the file. Neither .env
// nor bunfig.toml of the directory it is started in is read: a runner's environment is its own,
// not its working directory's (Node's and Deno's artefacts read neither).
import { copyFileSync, cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';
import { bundle, SPLIT_CHUNKS_DIR } from './bundle.ts';
import { runCommand } from './run-command.ts';
import { trainingRun } from './training-run.ts';

/** How much later than normal JavaScriptCore compiles during the start; the runner sets 1 once it has started (src/runtime/gc.ts). */
const START_JIT_POLICY = 16;

/** `esmBundle`: the entry of the runner's split ES module bundle (bundle.ts), its chunks beside it. */
export async function buildBunExecutable(root: string, info: VersionInfo, esmBundle: string, workDir: string, output: string): Promise<void> {
  const dir = join(workDir, 'bun');
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'bun-entry.mjs');
  copyFileSync(esmBundle, join(dir, 'main.mjs'));
  cpSync(join(dirname(esmBundle), SPLIT_CHUNKS_DIR), join(dir, SPLIT_CHUNKS_DIR), { recursive: true });
  await bundle(root, 'esm', entry, info, { entry: join('deploy', 'package', 'bun-entry.ts'), external: ['./main.mjs'] });
  const compile = (order?: string): void => {
    runCommand(join(root, 'node_modules', '.bin', 'bun'), [
      'build',
      '--compile',
      '--bytecode',
      '--format=esm',
      '--splitting',
      '--no-compile-autoload-dotenv',
      '--no-compile-autoload-bunfig',
      `--compile-jit-policy=${START_JIT_POLICY}`,
      ...(order === undefined ? [] : [`--bytecode-order=${order}`]),
      entry,
      '--outfile',
      output,
    ]);
  };
  compile();
  const order = join(dir, 'bytecode-order');
  await trainingRun([output], 'BUN_BYTECODE_ORDER_OUT', order);
  compile(order);
}
