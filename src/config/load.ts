// Reads config.toml: the given file, else ./config.toml if present, else the
// built-in defaults.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateConfig } from './validate.ts';
import { parseToml, readTextFile } from './toml-file.ts';
import { DEFAULT_CONFIG, type LoadedConfig } from './types.ts';

export { ConfigError } from './validate.ts';

export const DEFAULT_CONFIG_FILE = 'config.toml';

export function parseConfigText(text: string, origin: string): LoadedConfig & { path: string } {
  const { config, warnings } = validateConfig(parseToml(text, origin), origin);
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
  return parseConfigText(readTextFile(path, 'config file'), path);
}
