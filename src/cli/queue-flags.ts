// The flags of the queue commands (submit, list, cancel), read before the
// command's own modules load (see main.ts).
import { UsageError } from './args.ts';

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
