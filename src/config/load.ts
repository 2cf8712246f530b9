// Reads config.toml: the given file, else ./config.toml if present, else the
// built-in defaults.
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigError, validateConfig } from './validate.ts';
import { DEFAULT_CONFIG, type LoadedConfig } from './types.ts';

export { ConfigError } from './validate.ts';

export const DEFAULT_CONFIG_FILE = 'config.toml';

export function parseConfigText(text: string, origin: string): LoadedConfig & { path: string } {
  let document: Record<string, unknown>;
  try {
    document = parse(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'syntax error';
      throw new ConfigError(`${origin}:${error.line}:${error.column}: TOML syntax error: ${reason}`);
    }
    throw error;
  }
  const { config, warnings } = validateConfig(document, origin);
  return { config, path: origin, warnings };
}

/**
 * Loads the configuration. With an explicit path the file must exist; without
 * one, ./config.toml (relative to `cwd`) is used when present.
 */
export function loadConfig(explicitPath: string | undefined, cwd: string): LoadedConfig {
  const path = explicitPath !== undefined ? resolve(cwd, explicitPath) : resolve(cwd, DEFAULT_CONFIG_FILE);
  if (explicitPath === undefined && !existsSync(path)) {
    return { config: DEFAULT_CONFIG, path: undefined, warnings: [] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new ConfigError(`cannot read config file ${path}: ${reason}`);
  }
  return parseConfigText(text, path);
}
