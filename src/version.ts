// Name, version and build information of this runner, read once at start.
// `npm ci`/`npm run build` records git revision, branch and build time in
// build-info.json at the package root; without it the fields read "unknown".
// The release bundles have no package root: `npm run package` writes the same
// facts into the bundle as the constant RUNNER_BUILD_INFO.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface VersionInfo {
  readonly name: string;
  readonly version: string;
  readonly revision: string;
  readonly branch: string;
  readonly builtAt: string;
}

/** The directory holding package.json, found by walking up from this module (src/ or dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}`);
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function str(value: unknown): string {
  return typeof value === 'string' && value.length > 0 ? value : 'unknown';
}

function load(): VersionInfo {
  const root = packageRoot();
  const pkg = readJson(join(root, 'package.json')) ?? {};
  const build = readJson(join(root, 'build-info.json')) ?? {};
  return {
    name: str(pkg['name']),
    version: str(pkg['version']),
    revision: str(build['revision']),
    branch: str(build['branch']),
    builtAt: str(build['built_at']),
  };
}

/** Replaced by the release build (esbuild's and Bun's `define`) with the build's VersionInfo as a literal. */
declare const RUNNER_BUILD_INFO: VersionInfo | undefined;

export const versionInfo: VersionInfo = typeof RUNNER_BUILD_INFO === 'object' ? RUNNER_BUILD_INFO : load();
