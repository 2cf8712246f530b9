// The local queue a queue command (submit, list, cancel) works on: the
// queue_dir of a [[runners]] entry of the config, resolved against the
// working directory as `runner run` resolves it.
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import type { RunnerConfig } from '../config/types.ts';
import { checkWorkingDirectory, UsageError } from './args.ts';

/** The flags every queue command takes. */
export interface QueueFlags {
  readonly configPath: string | undefined;
  readonly runnerName: string | undefined;
  readonly workingDirectory: string | undefined;
}

/** The flag specs of QueueFlags, for parseFlags. */
export const QUEUE_FLAG_SPECS = {
  config: { type: 'string', short: 'c' },
  runner: { type: 'string', short: 'r' },
  'working-directory': { type: 'string', short: 'd' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** QueueFlags from parsed values; an empty value is a UsageError. */
export function queueFlags(values: Readonly<Record<string, string | boolean | undefined>>): QueueFlags {
  for (const [flag, expected] of [['config', 'file path'], ['runner', 'runner name'], ['working-directory', 'directory path']] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} is empty (expected a ${expected})`);
  }
  return {
    configPath: values['config'] as string | undefined,
    runnerName: values['runner'] as string | undefined,
    workingDirectory: values['working-directory'] as string | undefined,
  };
}

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
  const cwd = process.cwd();
  const workingDirectory = checkWorkingDirectory(flags.workingDirectory ?? cwd);
  const loaded = loadConfig(flags.configPath, cwd);
  for (const warning of loaded.warnings) process.stderr.write(`runner: warning: ${warning}\n`);
  const runner = pickRunner(loaded.config.runners, flags.runnerName, loaded.path ?? 'the built-in default config');
  return resolve(workingDirectory, runner.queueDir);
}
