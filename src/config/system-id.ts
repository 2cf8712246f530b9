// GitLab's system_id of a runner process: which machine a runner token's
// jobs run on. As GitLab Runner makes it: `s_` and 12 hex characters derived
// from the machine id (stable across restarts and reinstalls), or `r_` and
// 12 random characters where there is no machine id; kept in
// .runner_system_id beside config.toml (mode 0600, no newline).
import { createHmac, randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from './validate.ts';

export const SYSTEM_ID_FILE = '.runner_system_id';
const VALID = /^[sr]_[0-9a-zA-Z]{12}$/;
/** Where GitLab Runner's machine-id library looks, in its order: D-Bus's file first, systemd's if that one cannot be read. */
const MACHINE_ID_FILES = ['/var/lib/dbus/machine-id', '/etc/machine-id'];
const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** The machine id as GitLab Runner reads it: the first file that can be read decides, and an empty one means none. */
export function machineId(files: readonly string[] = MACHINE_ID_FILES): string | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const id = text.trim();
    return id === '' ? undefined : id;
  }
  return undefined;
}

/** A new system id: derived from the machine id where there is one, random otherwise. */
export function newSystemId(machine: string | undefined): string {
  if (machine !== undefined) return `s_${createHmac('sha256', machine).update('gitlab-runner').digest('hex').slice(0, 12)}`;
  return `r_${Array.from({ length: 12 }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('')}`;
}

export interface SystemId {
  readonly id: string;
  readonly path: string;
  /** Why the id could not be kept (it is used anyway, for this process). */
  readonly warning: string | undefined;
}

/** The system id kept beside the configuration file (`configPath`, or ./config.toml), made and kept if there is none. */
export function loadSystemId(configPath: string | undefined, cwd: string): SystemId {
  const path = join(dirname(resolve(cwd, configPath ?? 'config.toml')), SYSTEM_ID_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new ConfigError(`${path}: cannot read the runner's system ID: ${code ?? String(error)}`);
  }
  const kept = text?.trim();
  if (kept !== undefined && VALID.test(kept)) return { id: kept, path, warning: undefined };
  const id = newSystemId(machineId());
  try {
    writeFileSync(path, id, { mode: 0o600 });
    return { id, path, warning: undefined };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return { id, path, warning: `Couldn't save new system ID on state file ${path} (${code}): it changes with every start unless it is kept there` };
  }
}
