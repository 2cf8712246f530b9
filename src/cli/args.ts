// Strict command-line parsing on node:util's tokenizer, with our own one-line
// messages (the runtimes word parseArgs' errors differently).
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

export function parseFlags(args: readonly string[], specs: FlagSpecs, command: string): ParsedArgs {
  const { tokens } = parseArgs({
    args: [...args],
    options: specs as Record<string, { type: 'string' | 'boolean'; short?: string }>,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = specs[token.name];
    if (!spec) throw new UsageError(`unknown flag ${token.rawName} for '${command}' (see '${command} --help')`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`flag ${token.rawName} takes no value, got ${JSON.stringify(token.value)}`);
      values[token.name] = true;
    } else {
      if (token.value === undefined) throw new UsageError(`flag ${token.rawName} needs a value (see '${command} --help')`);
      values[token.name] = token.value;
    }
  }
  return { values, positionals };
}

/** The --working-directory value (default: the current directory), which must exist. */
export function checkWorkingDirectory(path: string): string {
  const dir = resolve(path);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`working directory ${JSON.stringify(path)} does not exist (expected an existing directory)`);
  }
  if (!isDirectory) throw new UsageError(`working directory ${JSON.stringify(path)} is not a directory`);
  return dir;
}
