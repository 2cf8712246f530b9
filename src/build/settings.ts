// The job settings GitLab Runner reads from a job's variables (its
// build_settings.go): git strategy and options, attempts, debug trace.
// A value it cannot use keeps the default and is named in a warning at the
// top of the log, with GitLab Runner's wording; an invalid submodule strategy
// is kept as invalid and fails get_sources, as it does there.
import { parseGoBool } from '../system/go-bool.ts';

export type GitStrategy = 'clone' | 'fetch' | 'none' | 'empty';
export type SubmoduleStrategy = 'none' | 'normal' | 'recursive' | 'invalid';

export interface JobSettings {
  readonly gitStrategy: GitStrategy;
  readonly gitCheckout: boolean;
  readonly submoduleStrategy: SubmoduleStrategy;
  readonly submodulePaths: readonly string[];
  /** undefined or <= 0: no --depth. */
  readonly submoduleDepth: number;
  readonly cleanFlags: readonly string[];
  readonly fetchFlags: readonly string[];
  readonly submoduleUpdateFlags: readonly string[];
  readonly lfsSkipSmudge: boolean;
  readonly submoduleForceHttps: boolean;
  readonly getSourcesAttempts: number;
  /** ARTIFACT_DOWNLOAD_ATTEMPTS: tries of download_artifacts. */
  readonly downloadArtifactsAttempts: number;
  /** RESTORE_CACHE_ATTEMPTS: tries of restore_cache. */
  readonly restoreCacheAttempts: number;
  readonly debugTrace: boolean;
  readonly afterScriptIgnoreErrors: boolean;
  /** GIT_CLONE_PATH, '' when unset. */
  readonly clonePath: string;
}

export const MAX_ATTEMPTS = 10;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(text, 10, 64): an optional sign and decimal digits, within int64. */
function parseGoInt(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : Number(value);
}

export interface SettingsDefaults {
  /** GitLab's allow_git_fetch: GIT_STRATEGY's default is fetch, else clone. */
  readonly allowGitFetch: boolean;
  /** The job's git depth: GIT_SUBMODULE_DEPTH's default. */
  readonly depth: number;
  /** The runner's `debug_trace_disabled`: CI_DEBUG_TRACE (and CI_DEBUG_SERVICES) are refused with a warning. */
  readonly debugTraceDisabled?: boolean;
}

/**
 * Reads the settings from the job's (expanded) variables, with the warnings
 * in GitLab Runner's order: each setting's parse error as they are read, then
 * debug trace refused, then attempts out of range.
 */
export function readSettings(valueOf: (key: string) => string | undefined, defaults: SettingsDefaults): { settings: JobSettings; warnings: string[] } {
  const warnings: string[] = [];
  const raw = (name: string): string => valueOf(name) ?? '';
  const quoted = (text: string): string => JSON.stringify(text);

  const bool = (name: string, fallback: boolean): boolean => {
    const text = raw(name);
    if (text === '') return fallback;
    const value = parseGoBool(text);
    if (value === undefined) warnings.push(`${name}: expected bool got ${quoted(text)}, using default value: ${fallback}`);
    return value ?? fallback;
  };
  const int = (name: string, fallback: number): number => {
    const text = raw(name);
    if (text === '') return fallback;
    const value = parseGoInt(text);
    if (value === undefined) warnings.push(`${name}: expected int got ${quoted(text)}, using default value: ${fallback}`);
    return value ?? fallback;
  };
  const flags = (name: string, fallback: readonly string[]): readonly string[] => {
    const text = raw(name);
    if (text === '') return fallback;
    return text === 'none' ? [] : text.split(/\s+/).filter((word) => word !== '');
  };
  const words = (name: string): readonly string[] => raw(name).split(/\s+/).filter((word) => word !== '');

  const debugServices = bool('CI_DEBUG_SERVICES', false);
  let debugTrace = bool('CI_DEBUG_TRACE', false);
  const clonePath = raw('GIT_CLONE_PATH');

  const defaultStrategy: GitStrategy = defaults.allowGitFetch ? 'fetch' : 'clone';
  let gitStrategy: GitStrategy = defaultStrategy;
  const strategy = raw('GIT_STRATEGY');
  if (['clone', 'fetch', 'none', 'empty'].includes(strategy)) gitStrategy = strategy as GitStrategy;
  else if (strategy !== '') {
    warnings.push(`GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got ${quoted(strategy)}, using default value '${defaultStrategy}'`);
  }
  const gitCheckout = bool('GIT_CHECKOUT', true);

  // An invalid submodule strategy is kept as invalid: get_sources cannot be written then, as in GitLab Runner.
  let submoduleStrategy: SubmoduleStrategy = 'none';
  const submodules = raw('GIT_SUBMODULE_STRATEGY');
  if (['none', 'normal', 'recursive'].includes(submodules)) submoduleStrategy = submodules as SubmoduleStrategy;
  else if (submodules !== '') {
    submoduleStrategy = 'invalid';
    warnings.push(`GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got ${quoted(submodules)}`);
  }

  const submodulePaths = words('GIT_SUBMODULE_PATHS');
  const submoduleDepth = int('GIT_SUBMODULE_DEPTH', defaults.depth);
  const cleanFlags = flags('GIT_CLEAN_FLAGS', ['-ffdx']);
  const fetchFlags = flags('GIT_FETCH_EXTRA_FLAGS', ['--prune', '--quiet']);
  const submoduleUpdateFlags = flags('GIT_SUBMODULE_UPDATE_FLAGS', []);
  const lfsSkipSmudge = bool('GIT_LFS_SKIP_SMUDGE', false);
  const submoduleForceHttps = bool('GIT_SUBMODULE_FORCE_HTTPS', false);
  // GitLab Runner reads all of these (EXECUTOR_JOB_SECTION_ATTEMPTS and SECRETS_RETRIEVAL_ATTEMPTS for their warnings only: no stage here uses them).
  const attempts = [
    'GET_SOURCES_ATTEMPTS',
    'ARTIFACT_DOWNLOAD_ATTEMPTS',
    'RESTORE_CACHE_ATTEMPTS',
    'EXECUTOR_JOB_SECTION_ATTEMPTS',
    'SECRETS_RETRIEVAL_ATTEMPTS',
  ]
    .map((name) => [name, int(name, 1)] as const);
  const afterScriptIgnoreErrors = bool('AFTER_SCRIPT_IGNORE_ERRORS', true);
  int('CACHE_REQUEST_TIMEOUT', 10);

  if (defaults.debugTraceDisabled) {
    if (debugTrace) warnings.push('CI_DEBUG_TRACE: usage is disabled on this Runner');
    if (debugServices) warnings.push('CI_DEBUG_SERVICES: usage is disabled on this Runner');
    debugTrace = false;
  }

  // Clamped in GitLab Runner's order, which is not the order they are read in.
  const clamped = new Map<string, number>();
  for (
    const name of [
      'EXECUTOR_JOB_SECTION_ATTEMPTS',
      'GET_SOURCES_ATTEMPTS',
      'ARTIFACT_DOWNLOAD_ATTEMPTS',
      'RESTORE_CACHE_ATTEMPTS',
      'SECRETS_RETRIEVAL_ATTEMPTS',
    ]
  ) {
    const value = attempts.find(([key]) => key === name)![1];
    const clamp = Math.min(MAX_ATTEMPTS, Math.max(1, value));
    if (clamp !== value) warnings.push(`${name}: number of attempts out of the range [1, ${MAX_ATTEMPTS}], clamping to: ${clamp}`);
    clamped.set(name, clamp);
  }

  const settings: JobSettings = {
    gitStrategy,
    gitCheckout,
    submoduleStrategy,
    submodulePaths,
    submoduleDepth,
    cleanFlags,
    fetchFlags,
    submoduleUpdateFlags,
    lfsSkipSmudge,
    submoduleForceHttps,
    getSourcesAttempts: clamped.get('GET_SOURCES_ATTEMPTS')!,
    downloadArtifactsAttempts: clamped.get('ARTIFACT_DOWNLOAD_ATTEMPTS')!,
    restoreCacheAttempts: clamped.get('RESTORE_CACHE_ATTEMPTS')!,
    debugTrace,
    afterScriptIgnoreErrors,
    clonePath,
  };
  return { settings, warnings };
}
