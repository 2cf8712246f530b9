// Reads profiles the way operators do: with `go tool pprof`, or with upstream
// pprof's driver where `go tool pprof` cannot fetch (a client certificate).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/version.ts';
import { collectOutput } from './child-output.ts';

const PPROF_TIMEOUT_MS = 60_000;

/** The environment of one pprof run: a HOME and PPROF_TMPDIR of its own (where it saves what it fetched), in `dir`. */
function pprofEnv(dir: string, env: Readonly<Record<string, string>> = {}): Record<string, string | undefined> {
  return { ...process.env, HOME: dir, PPROF_TMPDIR: dir, ...env };
}

export interface PprofRun {
  readonly status: number | null;
  /** stdout, then stderr. */
  readonly output: string;
}

/** Runs a pprof command line (one that fetches, say) to its end, without blocking this process; its HOME is removed after. */
export async function runPprof(argv: readonly [string, ...string[]], env: Readonly<Record<string, string>> = {}): Promise<PprofRun> {
  const home = mkdtempSync(join(tmpdir(), 'runner-pprof-home-'));
  try {
    const [command, ...args] = argv;
    const child = spawn(command, args, { env: pprofEnv(home, env), stdio: ['ignore', 'pipe', 'pipe'] });
    const { code, stdout, stderr } = await collectOutput(child, PPROF_TIMEOUT_MS).done;
    return { status: code, output: `${stdout}${stderr}` };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Runs `go tool pprof <flag> <file>` on the bytes and returns its output; throws with it on failure. */
export function goPprof(profile: Uint8Array, flag: '-raw' | '-top' = '-raw'): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-pprof-'));
  try {
    const file = join(dir, 'profile.pb.gz');
    writeFileSync(file, profile);
    const result = spawnSync('go', ['tool', 'pprof', flag, file], { encoding: 'utf8', env: pprofEnv(dir), timeout: PPROF_TIMEOUT_MS });
    const output = `${result.stdout}${result.stderr}`;
    if (result.status !== 0) throw new Error(`go tool pprof ${flag} failed (${result.status}):\n${output}`);
    return output;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The packages upstream pprof's driver needs, as the Go distribution vendors them (GOROOT/src/cmd/vendor). */
const DRIVER_PACKAGES = ['github.com/google/pprof', 'github.com/ianlancetaylor/demangle'] as const;

/** Where this Go vendors upstream pprof; undefined without go or without the copy. */
export function vendoredPprof(): string | undefined {
  const goroot = spawnSync('go', ['env', 'GOROOT'], { encoding: 'utf8' });
  if (goroot.status !== 0) return undefined;
  const vendor = join(goroot.stdout.trim(), 'src', 'cmd', 'vendor');
  return DRIVER_PACKAGES.every((path) => existsSync(join(vendor, path))) ? vendor : undefined;
}

/**
 * Builds test/support/pprof-driver (upstream pprof's command line, which
 * fetches with -tls_cert, -tls_key and -tls_ca) into `dir` and returns the
 * binary: GOPATH mode, with a GOPATH in `dir` whose packages link to the
 * copies the Go distribution vendors; Go's build cache is the user's as usual.
 */
export function buildPprofDriver(dir: string): string {
  const vendor = vendoredPprof();
  if (vendor === undefined) throw new Error('this Go distribution has no vendored copy of github.com/google/pprof');
  const gopath = join(dir, 'gopath');
  for (const path of DRIVER_PACKAGES) {
    const link = join(gopath, 'src', path);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(vendor, path), link);
  }
  const binary = join(dir, 'pprof');
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: gopath, GOFLAGS: '' };
  const build = spawnSync('go', ['build', '-o', binary, join(packageRoot(), 'test', 'support', 'pprof-driver', 'main.go')], { env, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`go build of the pprof driver failed (${build.status}):\n${build.stdout}${build.stderr}`);
  return binary;
}

export interface RawLocation {
  readonly functionName: string;
  readonly file: string;
  readonly line: number;
}

/** The "Locations" section of `go tool pprof -raw`: `  N: 0x0 M=1 function file:line s=...`. */
export function rawLocations(raw: string): RawLocation[] {
  const section = raw.split(/^Locations$/m)[1] ?? '';
  const locations: RawLocation[] = [];
  for (const line of section.split('\n')) {
    const match = line.match(/^\s+\d+: 0x[0-9a-f]+ M=\d+ (.+) (\S+):(\d+) s=\d+$/);
    if (match) locations.push({ functionName: match[1]!, file: match[2]!, line: Number(match[3]) });
  }
  return locations;
}

/** The sample type header of `-raw`, e.g. "samples/count cpu/nanoseconds[dflt]". */
export function rawSampleTypes(raw: string): string {
  return raw.split(/^Samples:$/m)[1]?.split('\n')[1]?.trim() ?? '';
}

/** The sample lines of `-raw` ("  N  V: loc loc ..."), between the sample types and "Locations". */
export function rawSampleLines(raw: string): string[] {
  const section = raw.split(/^Samples:$/m)[1]?.split(/^Locations$/m)[0] ?? '';
  return section.split('\n').filter((line) => /^\s*-?\d+(\s+-?\d+)*:(\s+\d+)+\s*$/.test(line));
}
