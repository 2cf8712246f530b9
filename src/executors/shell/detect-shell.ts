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

/** The shell jobs run in: bash if on PATH, else sh; `kind` forces one (bash: an error when missing). */
export function detectShell(kind?: ShellKind): { kind: ShellKind; path: string } {
  const path = process.env['PATH'] || DEFAULT_PATH;
  if (kind !== 'sh') {
    const bash = which('bash', path);
    if (bash !== undefined) return { kind: 'bash', path: bash };
    if (kind === 'bash') throw new Error('bash not found on PATH');
  }
  return { kind: 'sh', path: which('sh', path) ?? '/bin/sh' };
}
