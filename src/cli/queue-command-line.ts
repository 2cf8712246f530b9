// A queue command as users type it again, for the hints other commands print:
// `runner cancel -r beta ID` must reach the same queue as the `runner submit
// -r beta` that printed it, so the flags that select the queue are repeated
// with their values as given, quoted for a POSIX shell.
import type { QueueFlags } from './queue-flags.ts';

/**
 * A word as a POSIX shell reads it back unchanged: bare if it is safe so, in
 * double quotes if nothing in it is special there (the hints put the whole
 * command in single quotes, which would be confusing inside), else in single
 * quotes.
 */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  if (!/["$`\\!\n]/.test(word)) return `"${word}"`;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A flag and its value; a value starting with `-` is joined with `=`, as a separate word it would read as a flag. */
function flag(short: string, long: string, value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.startsWith('-') ? [shellWord(`--${long}=${value}`)] : [short, shellWord(value)];
}

/** `runner COMMAND [queue flags] ARGS...`, e.g. `runner cancel -r beta 0mwrea97y-h22-00002a-9c41e07fd2`. */
export function queueCommandLine(command: 'list' | 'cancel', flags: QueueFlags, args: readonly string[] = []): string {
  return [
    'runner',
    command,
    ...flag('-c', 'config', flags.configPath),
    ...flag('-r', 'runner', flags.runnerName),
    ...flag('-d', 'working-directory', flags.workingDirectory),
    ...args.map(shellWord),
  ].join(' ');
}
