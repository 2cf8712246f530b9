// Reading TOML files (config.toml, job files) with errors that name the file
// and, for syntax errors, the line and column.
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './validate.ts';

export type TomlTable = Record<string, unknown>;

/** Parses TOML; a syntax error is a one-line ConfigError `ORIGIN:LINE:COL: TOML syntax error: ...`. */
export function parseToml(text: string, origin: string): TomlTable {
  try {
    return parse(text) as TomlTable;
  } catch (error) {
    if (error instanceof TomlError) {
      // Only the first line: the rest quotes the offending line, which may hold a secret.
      const reason = error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'syntax error';
      throw new ConfigError(`${origin}:${error.line}:${error.column}: TOML syntax error: ${reason}`);
    }
    throw error;
  }
}

/** Reads a text file; failures are one-line ConfigErrors such as `cannot read config file PATH: no such file`. */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new ConfigError(`cannot read ${what} ${path}: ${reason}`);
  }
}
