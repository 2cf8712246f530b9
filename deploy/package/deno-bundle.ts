// Deno's artefact: a directory of two ES modules run by `deno run -A DIR/runner.mjs`. runner.mjs
// is the small entry (deno-entry.ts) that answers `--version` and the help texts itself; anything
// else imports main.mjs, the runner's bundle, beside it. Deno compiles a module whole before any
// of it runs, so one 1.1 MiB file cost `--version` about 2.4x a bare `deno eval 0` (issue 17).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';
import { bundle } from './bundle.ts';
import { DENO_FILES } from './release-files.ts';

/** `esmBundle`: the runner's ES module bundle (bundle.ts); `dir`: the artefact's directory (release-files.ts). */
export async function buildDenoBundle(root: string, info: VersionInfo, esmBundle: string, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, DENO_FILES.entry);
  const main = join(dir, DENO_FILES.main);
  // The bundle's #! line (cmd/runner.ts's, for Node) goes: main.mjs is only ever imported.
  writeFileSync(main, readFileSync(esmBundle, 'utf8').replace(/^#!.*\n/, ''));
  await bundle(root, 'esm', entry, info, { entry: join('deploy', 'package', 'deno-entry.ts'), external: [`./${DENO_FILES.main}`] });
  writeFileSync(entry, `#!/usr/bin/env -S deno run -A\n${readFileSync(entry, 'utf8')}`);
  chmodSync(entry, 0o755);
  return [entry, main];
}
