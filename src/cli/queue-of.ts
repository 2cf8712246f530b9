// The local queue a queue command (submit, list, cancel) works on: the
// queue_dir of a [[runners]] entry of the config, resolved against the
// working directory as `runner run` resolves it.
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import type { RunnerConfig } from '../config/types.ts';
import { checkWorkingDirectory, UsageError } from './args.ts';

import type { QueueFlags } from './queue-flags.ts';

function pickRunner(runners: readonly RunnerConfig[], name: string | undefined, configOrigin: string): RunnerConfig {
  if (name === undefined) {
    const first = runners[0];
    if (!first) throw new UsageError(`${configOrigin} has no [[runners]]: there is no local queue`);
    return first;
  }
  const runner = runners.find((r) => r.name === name);
  if (!runner) {
    const names = runners.map((r) => JSON.stringify(r.name)).join(', ');
    throw new UsageError(`no runner named ${JSON.stringify(name)} in ${configOrigin} (${runners.length > 0 ? `runners: ${names}` : 'it has no [[runners]]'})`);
  }
  return runner;
}

/** The queue directory the flags name; config warnings go to stderr. */
export function queueOf(flags: QueueFlags): string {
  return queueTarget(flags).queueDir;
}

/** The queue directory the flags name and the config's check_interval (how often its runner polls it, if it reads the same config). */
export function queueTarget(flags: QueueFlags): { queueDir: string; checkIntervalMs: number } {
  const cwd = process.cwd();
  const workingDirectory = checkWorkingDirectory(flags.workingDirectory ?? cwd);
  const loaded = loadConfig(flags.configPath, cwd);
  for (const warning of loaded.warnings) process.stderr.write(`runner: warning: ${warning}\n`);
  const runner = pickRunner(loaded.config.runners, flags.runnerName, loaded.path ?? 'the built-in default config');
  return { queueDir: resolve(workingDirectory, runner.queueDir), checkIntervalMs: loaded.config.checkInterval * 1000 };
}
