// The runtimes the startup bench compares, and how each one is invoked.

import { join } from 'node:path';
import { runToExit } from './processes.ts';

export type RuntimeName = 'node' | 'bun' | 'deno';
export const ALL_RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];

export interface RuntimeSpec {
  name: RuntimeName;
  /** Executable to spawn. */
  bin: string;
  /** Arguments that start the runner (without the `run ...` part). */
  runnerArgs: string[];
  /** Arguments that make the runtime start and exit doing nothing. */
  bareArgs: string[];
}

export function specFor(name: RuntimeName, root: string): RuntimeSpec {
  switch (name) {
    case 'node': {
      // The bench itself is meant to run on Node; otherwise use `node` from PATH.
      const onNode = process.versions.bun === undefined && process.versions.deno === undefined;
      return { name, bin: onNode ? process.execPath : 'node', runnerArgs: [join(root, 'dist', 'cmd', 'runner.js')], bareArgs: ['-e', '0'] };
    }
    // Bun and Deno run the TypeScript sources directly, from the pinned devDependencies
    // rather than whatever happens to be on PATH.
    case 'bun':
      return { name, bin: join(root, 'node_modules', '.bin', 'bun'), runnerArgs: [join(root, 'cmd', 'runner.ts')], bareArgs: ['-e', '0'] };
    case 'deno':
      return { name, bin: join(root, 'node_modules', '.bin', 'deno'), runnerArgs: ['run', '-A', join(root, 'cmd', 'runner.ts')], bareArgs: ['eval', '0'] };
  }
}

/**
 * Arguments that run a bench script on this runtime, `script` given as its TypeScript source
 * relative to the root: Node runs the compiled file in dist/, Bun and Deno the source. V8 flags
 * (`--expose-gc`, ...) go to Node and Deno; Bun has no V8 and gets none.
 */
export function scriptArgs(spec: RuntimeSpec, root: string, script: string, v8Flags: readonly string[] = []): string[] {
  switch (spec.name) {
    case 'node':
      return [...v8Flags, join(root, 'dist', script.replace(/\.ts$/, '.js'))];
    case 'bun':
      return [join(root, script)];
    case 'deno':
      return ['run', '-A', ...(v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(',')}`] : []), join(root, script)];
  }
}

export async function versionOf(spec: RuntimeSpec, root: string): Promise<string> {
  // Skip a spawn when the bench's own Node is the one measured.
  if (spec.name === 'node' && spec.bin === process.execPath) return process.version.replace(/^v/, '');
  const r = await runToExit(spec.bin, ['--version'], root);
  if (r.code !== 0) throw new Error(`${spec.bin} --version failed (${r.signal ?? `code ${String(r.code)}`}): ${r.stderr.trim()}`);
  const firstLine = r.stdout.trim().split('\n')[0] ?? '';
  return /\d+\.\d+\.\d+\S*/.exec(firstLine)?.[0] ?? firstLine;
}
