// What the startup bench starts on each runtime: the reference - the runner as a checkout runs it
// unbundled (sources on Bun and Deno, dist/ on Node), either issue 17's "today" (another checkout,
// --today DIR) or this tree itself -, each release artefact of that runtime (npm run package), and
// the floor, a bare node:http server (floor-server.ts).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DENO_FILES, releaseFiles } from '../../deploy/package/release-files.ts';
import { runToExit } from './processes.ts';
import { type RuntimeSpec, scriptArgs, specFor } from './runtimes.ts';

export interface StartupSubject {
  /** Short name in the table. */
  readonly label: string;
  /** The command, before the runner's own arguments. */
  readonly command: readonly [string, ...string[]];
  /** The binary the started process must be (the process check). */
  readonly processBin: string;
  /** Whether it answers `--version` and `--help` (the floor does not). */
  readonly cli: boolean;
  /** The subject the others are compared with ("x ref"). */
  readonly reference?: boolean;
  /** The files of a release artefact: their page cache is dropped before the first run (page-cache.ts). */
  readonly files?: readonly string[];
}

/** Where the reference runs from: a checkout's root and how the table names it. */
export interface StartupReference {
  readonly root: string;
  readonly label: string;
}

/**
 * The reference on this runtime: the checkout's runner started the way the repository runs it
 * (runtimes.ts), by this tree's pinned runtime so both sides run on the same version.
 */
function referenceSubject(spec: RuntimeSpec, reference: StartupReference): StartupSubject {
  const runnerArgs = specFor(spec.name, reference.root).runnerArgs;
  const entry = runnerArgs[runnerArgs.length - 1] ?? '';
  if (!existsSync(entry)) {
    throw new Error(`the reference ${reference.root} has no ${entry}: check it out and build it (copy node_modules, then \`npm run build\`)`);
  }
  return { label: reference.label, command: [spec.bin, ...runnerArgs], processBin: spec.bin, cli: true, reference: true };
}

/** The npm tarball unpacked as npm would install it (it has no dependencies and no scripts). */
async function unpackedNpmPackage(tarball: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'runner-bench-npm-'));
  const result = await runToExit('tar', ['-xzf', tarball, '-C', dir], dir);
  if (result.code !== 0) throw new Error(`tar -xzf ${tarball} failed: ${result.stderr.trim()}`);
  return join(dir, 'package', 'bin', 'runner.js');
}

/** A single executable: the process is the file itself, and the file is all the artefact. */
function executableSubject(label: string, path: string): Promise<StartupSubject> {
  return Promise.resolve({ label, command: [path], processBin: path, cli: true, files: [path] });
}

export async function startupSubjects(spec: RuntimeSpec, root: string, version: string, reference: StartupReference): Promise<StartupSubject[]> {
  const files = releaseFiles(root, version);
  const missing = (path: string): boolean => !existsSync(path);
  const subjects: StartupSubject[] = [referenceSubject(spec, reference)];
  const release = (path: string, make: () => Promise<StartupSubject>): Promise<void> => {
    if (missing(path)) throw new Error(`${path} is missing: run \`npm run package\` first (or name the runtimes to measure)`);
    return make().then((subject) => void subjects.push(subject));
  };
  switch (spec.name) {
    case 'node':
      await release(
        files.npmTarball,
        async () => {
          const bin = await unpackedNpmPackage(files.npmTarball);
          return { label: 'npm package', command: [spec.bin, bin], processBin: spec.bin, cli: true, files: [dirname(dirname(bin))] };
        },
      );
      await release(files.nodeExecutable, () => executableSubject('single executable', files.nodeExecutable));
      break;
    case 'bun':
      await release(files.bunExecutable, () => executableSubject('compiled executable', files.bunExecutable));
      break;
    case 'deno':
      await release(
        join(files.denoDir, DENO_FILES.entry),
        () =>
          Promise.resolve({
            label: 'bundle',
            command: [spec.bin, 'run', '-A', join(files.denoDir, DENO_FILES.entry)],
            processBin: spec.bin,
            cli: true,
            files: [files.denoDir],
          }),
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
