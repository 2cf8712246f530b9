// Reads profiles the way operators do: with `go tool pprof`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `go tool pprof <flag> <file>` on the bytes and returns its output; throws with it on failure. */
export function goPprof(profile: Uint8Array, flag: '-raw' | '-top' = '-raw'): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-pprof-'));
  try {
    const file = join(dir, 'profile.pb.gz');
    writeFileSync(file, profile);
    const result = spawnSync('go', ['tool', 'pprof', flag, file], {
      encoding: 'utf8',
      env: { ...process.env, HOME: dir, PPROF_TMPDIR: dir },
      timeout: 60_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    if (result.status !== 0) throw new Error(`go tool pprof ${flag} failed (${result.status}):\n${output}`);
    return output;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
