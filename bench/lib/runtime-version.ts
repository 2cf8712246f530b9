// The version of a runtime about to be benchmarked, after checking that what it will run is
// there: Node runs the compiled runner from dist/, which only `npm run build` makes.

import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { type RuntimeSpec, versionOf } from './runtimes.ts';

/** The runtime's version; throws, saying what to do, when Node's dist/cmd/runner.js is missing. */
export async function checkedVersionOf(spec: RuntimeSpec, root: string): Promise<string> {
  const entry = spec.runnerArgs[0] ?? '';
  if (spec.name === 'node' && !existsSync(entry)) throw new Error(`${relative(root, entry)} is missing: run \`npm run build\` first`);
  return versionOf(spec, root);
}
