// Which shell the shell executor runs stage scripts in: bash if on PATH, else sh.
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ShellKind } from '../../job/executor.ts';

/** PATH for jobs when the runner's own environment has none. */
export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Finds an executable on PATH. */
export function which(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The last answer, for the same PATH and kind: each job asks, and PATH lookups cost a few access() calls. */
let last: { key: string; shell: { kind: ShellKind; path: string } } | undefined;

/** The shell jobs run in: bash if on PATH, else sh; `kind` forces one (bash: an error when missing). */
export function detectShell(kind?: ShellKind): { kind: ShellKind; path: string } {
  const path = process.env['PATH'] || DEFAULT_PATH;
  const key = `${kind ?? ''}\0${path}`;
  // Still there? One access() instead of a walk of PATH (a shell removed or replaced is looked for again).
  if (last?.key === key && executable(last.shell.path)) return last.shell;
  const shell = findShell(kind, path);
  // sh as a fallback is not kept: bash installed later is found by the next job.
  last = kind === 'sh' || shell.kind === 'bash' ? { key, shell } : undefined;
  return shell;
}

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findShell(kind: ShellKind | undefined, path: string): { kind: ShellKind; path: string } {
  if (kind !== 'sh') {
    const bash = which('bash', path);
    if (bash !== undefined) return { kind: 'bash', path: bash };
    if (kind === 'bash') throw new Error('bash not found on PATH');
  }
  return { kind: 'sh', path: which('sh', path) ?? '/bin/sh' };
}
