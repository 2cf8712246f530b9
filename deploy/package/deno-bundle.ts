// Deno's artefact: a directory of two ES modules run by `deno run -A DIR/runner.mjs`. runner.mjs
// is the small entry (deno-entry.ts) that answers `--version` and the help texts itself; anything
// else imports main.mjs, the runner's bundle, beside it, with the chunks it imports in chunks/.
// Deno compiles a module whole before any of it runs, so one 1.1 MiB file cost `--version` about
// 2.4x a bare `deno eval 0` (issue 17), and `run` compiled the job engine, the web config's YAML
// parser and the rest that it loads on first use: split, a start reads about a third of it (and
// only that, with importedOnFirstUse below).
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';
import { bundle, SPLIT_CHUNKS_DIR } from './bundle.ts';
import { importedOnFirstUse } from './deferred-imports.ts';
import { DENO_FILES } from './release-files.ts';

/**
 * `esmBundle`: the entry of the runner's split ES module bundle (bundle.ts), its chunks beside it;
 * `dir`: the artefact's directory (release-files.ts). Returns the files written.
 */
export async function buildDenoBundle(root: string, info: VersionInfo, esmBundle: string, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, DENO_FILES.entry);
  const main = join(dir, DENO_FILES.main);
  // The bundle's #! line (cmd/runner.ts's, for Node) goes: main.mjs is only ever imported.
  writeFileSync(main, readFileSync(esmBundle, 'utf8').replace(/^#!.*\n/, ''));
  const chunks = join(dir, DENO_FILES.chunks);
  cpSync(join(dirname(esmBundle), SPLIT_CHUNKS_DIR), chunks, { recursive: true });
  await bundle(root, 'esm', entry, info, { entry: join('deploy', 'package', 'deno-entry.ts'), external: [`./${DENO_FILES.main}`] });
  writeFileSync(entry, `#!/usr/bin/env -S deno run -A\n${readFileSync(entry, 'utf8')}`);
  chmodSync(entry, 0o755);
  const written = [entry, main, ...readdirSync(chunks).sort().map((name) => join(chunks, name))];
  for (const file of written) writeFileSync(file, importedOnFirstUse(readFileSync(file, 'utf8')));
  return written;
}
