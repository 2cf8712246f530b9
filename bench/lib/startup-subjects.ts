// What the startup bench starts on each runtime: the runner as the repository runs it today
// (sources, or dist/ on Node), each release artefact of that runtime (npm run package), and the
// floor, a bare node:http server (floor-server.ts).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DENO_FILES, releaseFiles } from '../../deploy/package/release-files.ts';
import { runToExit } from './processes.ts';
import { type RuntimeSpec, scriptArgs } from './runtimes.ts';

export interface StartupSubject {
  /** Short name in the table. */
  readonly label: string;
  /** The command, before the runner's own arguments. */
  readonly command: readonly [string, ...string[]];
  /** The binary the started process must be (the process check). */
  readonly processBin: string;
  /** Whether it answers `--version` and `--help` (the floor does not). */
  readonly cli: boolean;
}

/** The npm tarball unpacked as npm would install it (it has no dependencies and no scripts). */
async function unpackedNpmPackage(tarball: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'runner-bench-npm-'));
  const result = await runToExit('tar', ['-xzf', tarball, '-C', dir], dir);
  if (result.code !== 0) throw new Error(`tar -xzf ${tarball} failed: ${result.stderr.trim()}`);
  return join(dir, 'package', 'bin', 'runner.js');
}

export async function startupSubjects(spec: RuntimeSpec, root: string, version: string): Promise<StartupSubject[]> {
  const files = releaseFiles(root, version);
  const missing = (path: string): boolean => !existsSync(path);
  const subjects: StartupSubject[] = [{ label: 'today', command: [spec.bin, ...spec.runnerArgs], processBin: spec.bin, cli: true }];
  const release = (path: string, make: () => Promise<StartupSubject>): Promise<void> => {
    if (missing(path)) throw new Error(`${path} is missing: run \`npm run package\` first (or name the runtimes to measure)`);
    return make().then((subject) => void subjects.push(subject));
  };
  switch (spec.name) {
    case 'node':
      await release(
        files.npmTarball,
        async () => ({ label: 'npm package', command: [spec.bin, await unpackedNpmPackage(files.npmTarball)], processBin: spec.bin, cli: true }),
      );
      await release(
        files.nodeExecutable,
        () => Promise.resolve({ label: 'single executable', command: [files.nodeExecutable], processBin: files.nodeExecutable, cli: true }),
      );
      break;
    case 'bun':
      await release(
        files.bunExecutable,
        () => Promise.resolve({ label: 'compiled executable', command: [files.bunExecutable], processBin: files.bunExecutable, cli: true }),
      );
      break;
    case 'deno':
      await release(
        join(files.denoDir, DENO_FILES.entry),
        () => Promise.resolve({ label: 'bundle', command: [spec.bin, 'run', '-A', join(files.denoDir, DENO_FILES.entry)], processBin: spec.bin, cli: true }),
      );
      break;
  }
  subjects.push({
    label: 'floor (bare node:http)',
    command: [spec.bin, ...scriptArgs(spec, root, 'bench/lib/floor-server.ts')],
    processBin: spec.bin,
    cli: false,
  });
  return subjects;
}
