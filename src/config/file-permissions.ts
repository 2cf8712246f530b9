// config.toml holds runner tokens once a runner talks to a coordinator:
// say so when others on the machine can read it.
import { statSync } from 'node:fs';
import type { Config } from './types.ts';

/** A warning when `path` is readable by group or others and holds a token; undefined otherwise. */
export function tokenFileWarning(path: string | undefined, config: Config): string | undefined {
  if (path === undefined || !config.runners.some((runner) => runner.token !== undefined)) return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o044) === 0) return undefined;
  return `${path} holds runner tokens and is readable by ${mode & 0o004 ? 'every user' : 'its group'} (mode ${
    (mode & 0o777).toString(8).padStart(4, '0')
  }): run chmod 600 ${path}`;
}
