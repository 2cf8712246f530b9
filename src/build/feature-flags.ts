// GitLab Runner's feature flags (FF_*): every flag it knows, with its
// default, and what this runner does with the ones that change a
// shell-executor job. Flags of other executors (Docker, Kubernetes, Windows)
// change nothing here, as in GitLab Runner's shell executor. A flag this
// runner does not implement is never taken silently: a job that asks for a
// value other than what this runner does gets a warning naming it.
import { parseGoBool } from '../system/go-bool.ts';

/**
 * Every flag GitLab Runner 19.4 knows (helpers/featureflags/flags.go), in its
 * order, with its default: each is exported to a job's stages with its value,
 * and a job's own variable of that name only feeds the resolution.
 */
export const GITLAB_FLAGS: ReadonlyArray<readonly [name: string, defaultValue: boolean]> = [
  ['FF_TEST_FEATURE', false],
  ['FF_NETWORK_PER_BUILD', false],
  ['FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY', false],
  ['FF_USE_DIRECT_DOWNLOAD', true],
  ['FF_USE_FASTZIP', true],
  ['FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR', false],
  ['FF_ENABLE_BASH_EXIT_CODE_CHECK', false],
  ['FF_USE_WINDOWS_LEGACY_PROCESS_STRATEGY', false],
  ['FF_USE_LEGACY_BASH_EVAL', false],
  ['FF_USE_POWERSHELL_PATH_RESOLVER', false],
  ['FF_USE_DYNAMIC_TRACE_FORCE_SEND_INTERVAL', false],
  ['FF_SCRIPT_SECTIONS', false],
  ['FF_ENABLE_JOB_CLEANUP', false],
  ['FF_KUBERNETES_HONOR_ENTRYPOINT', false],
  ['FF_POSIXLY_CORRECT_ESCAPES', false],
  ['FF_RESOLVE_FULL_TLS_CHAIN', false],
  ['FF_DISABLE_POWERSHELL_STDIN', false],
  ['FF_USE_POD_ACTIVE_DEADLINE_SECONDS', true],
  ['FF_USE_ADVANCED_POD_SPEC_CONFIGURATION', false],
  ['FF_SECRET_RESOLVING_FAILS_IF_MISSING', true],
  ['FF_PRINT_POD_EVENTS', false],
  ['FF_USE_GIT_BUNDLE_URIS', true],
  ['FF_USE_GIT_NATIVE_CLONE', false],
  ['FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR', false],
  ['FF_USE_INIT_WITH_DOCKER_EXECUTOR', false],
  ['FF_LOG_IMAGES_CONFIGURED_FOR_JOB', false],
  ['FF_USE_DOCKER_AUTOSCALER_DIAL_STDIO', true],
  ['FF_CLEAN_UP_FAILED_CACHE_EXTRACT', false],
  ['FF_USE_WINDOWS_JOB_OBJECT', false],
  ['FF_TIMESTAMPS', true],
  ['FF_DISABLE_AUTOMATIC_TOKEN_ROTATION', false],
  ['FF_USE_LEGACY_GCS_CACHE_ADAPTER', false],
  ['FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR', false],
  ['FF_USE_LEGACY_S3_CACHE_ADAPTER', false],
  ['FF_GIT_URLS_WITHOUT_TOKENS', false],
  ['FF_WAIT_FOR_POD_TO_BE_REACHABLE', false],
  ['FF_MASK_ALL_DEFAULT_TOKENS', true],
  ['FF_EXPORT_HIGH_CARDINALITY_METRICS', false],
  ['FF_USE_FLEETING_ACQUIRE_HEARTBEATS', false],
  ['FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY', true],
  ['FF_USE_ADAPTIVE_REQUEST_CONCURRENCY', true],
  ['FF_USE_GITALY_CORRELATION_ID', true],
  ['FF_USE_GIT_PROACTIVE_AUTH', false],
  ['FF_HASH_CACHE_KEYS', false],
  ['FF_ENABLE_JOB_INPUTS_INTERPOLATION', true],
  ['FF_USE_JOB_ROUTER', false],
  ['FF_SCRIPT_TO_STEP_MIGRATION', false],
  ['FF_USE_PARALLEL_CACHE_TRANSFER', false],
  ['FF_USE_PARALLEL_ARTIFACT_TRANSFER', false],
  ['FF_CONCRETE', false],
  ['FF_SUSPENDABLE_ENVIRONMENTS', false],
  ['FF_USE_NATIVE_CONTAINER_STOP', false],
];

const KNOWN = new Set(GITLAB_FLAGS.map(([name]) => name));

/** Whether GitLab Runner knows a flag of this name (a job's variable of that name is not exported as it is). */
export function isKnownFlag(name: string): boolean {
  return KNOWN.has(name);
}

/** A flag this runner implements, with GitLab Runner's default. */
export const HONOURED_FLAGS = {
  FF_ENABLE_BASH_EXIT_CODE_CHECK: false,
  FF_USE_LEGACY_BASH_EVAL: false,
  FF_MASK_ALL_DEFAULT_TOKENS: true,
  FF_TIMESTAMPS: true,
  FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY: true,
  FF_USE_GIT_BUNDLE_URIS: true,
  FF_USE_GITALY_CORRELATION_ID: true,
  FF_ENABLE_JOB_CLEANUP: false,
  FF_SCRIPT_SECTIONS: false,
  FF_USE_DIRECT_DOWNLOAD: true,
  FF_HASH_CACHE_KEYS: false,
  FF_CLEAN_UP_FAILED_CACHE_EXTRACT: false,
} as const;

export type HonouredFlag = keyof typeof HONOURED_FLAGS;

/**
 * Flags that change a shell-executor job in GitLab Runner which this runner
 * does not implement, with what this runner does instead (so with GitLab's
 * default in the first column, a job that sets the other value is warned).
 */
export const UNSUPPORTED_FLAGS: Readonly<Record<string, { readonly behaves: boolean; readonly why: string }>> = {
  FF_POSIXLY_CORRECT_ESCAPES: { behaves: false, why: 'bash gets ANSI-C quoting, sh POSIX single quotes' },
  FF_GIT_URLS_WITHOUT_TOKENS: {
    behaves: false,
    why:
      "git gets the job token from url.insteadOf rewrites in a git config file in the job's temporary directory (GitLab Runner's default), not from a credential helper",
  },
  FF_USE_GIT_NATIVE_CLONE: { behaves: false, why: 'sources are fetched with git init and git fetch' },
  FF_USE_GIT_PROACTIVE_AUTH: { behaves: false, why: 'git authenticates when the server asks' },
  FF_USE_FASTZIP: { behaves: true, why: 'archives are written and read by one zip library (yazl, yauzl), whatever the flag' },
  FF_SECRET_RESOLVING_FAILS_IF_MISSING: { behaves: true, why: 'external secrets are not resolved' },
  FF_USE_PARALLEL_CACHE_TRANSFER: { behaves: false, why: 'a cache is local: there is no transfer to parallelise' },
  FF_USE_PARALLEL_ARTIFACT_TRANSFER: { behaves: false, why: 'an artifact is uploaded and downloaded in one request' },
  FF_USE_LEGACY_GCS_CACHE_ADAPTER: { behaves: false, why: 'there is no distributed cache, only a local one' },
  FF_USE_LEGACY_S3_CACHE_ADAPTER: { behaves: false, why: 'there is no distributed cache, only a local one' },
  FF_NETWORK_PER_BUILD: { behaves: false, why: 'the shell executor makes no network, nor CI_BUILD_NETWORK_NAME' },
  FF_ENABLE_JOB_INPUTS_INTERPOLATION: { behaves: false, why: 'job inputs are not interpolated' },
  FF_SCRIPT_TO_STEP_MIGRATION: { behaves: false, why: 'steps are run as scripts' },
  FF_CONCRETE: { behaves: false, why: 'jobs are not run through a step runner' },
};

export interface FlagResolution {
  readonly flags: Readonly<Record<HonouredFlag, boolean>>;
  /** Every GitLab flag with the value it resolved to, in GitLab's order (exported to the job's stages). */
  readonly all: ReadonlyArray<readonly [name: string, value: boolean]>;
  /** The flags a job set to other than GitLab's default, as the log header names them (`FF_X:true`), in GitLab's order. */
  readonly changed: readonly string[];
  /** GitLab Runner's warnings of values that are not booleans (the flag keeps its default). */
  readonly errors: readonly string[];
  /** This runner's warnings of unsupported flags set to what it does not do. */
  readonly unsupported: readonly string[];
}

/**
 * The flags a job runs with: each flag from the job's variables (the last
 * definition wins) or its default (`defaults` may differ from GitLab's:
 * FF_TIMESTAMPS for a local job); an error for a value that is not a
 * boolean, and a warning for an unsupported flag set to what this runner
 * does not do.
 */
export function resolveFlags(valueOf: (key: string) => string | undefined, defaults: Partial<Record<HonouredFlag, boolean>> = {}): FlagResolution {
  const own: Partial<Record<string, boolean>> = defaults;
  const all: Array<readonly [string, boolean]> = [];
  const changed: string[] = [];
  const errors: string[] = [];
  const unsupported: string[] = [];
  for (const [name, gitlabDefault] of GITLAB_FLAGS) {
    const text = valueOf(name);
    const parsed = text === undefined ? undefined : parseGoBool(text);
    if (text !== undefined && parsed === undefined) errors.push(`${name}: could not parse feature flag, expected bool, got ${text}`);
    const value = parsed ?? own[name] ?? gitlabDefault;
    all.push([name, value]);
    if (parsed !== undefined && value !== gitlabDefault) changed.push(`${name}:${value}`);
    const support = UNSUPPORTED_FLAGS[name];
    if (support !== undefined && parsed !== undefined && parsed !== support.behaves) {
      unsupported.push(`${name}=${parsed} is not supported by this runner and is ignored: ${support.why}`);
    }
  }
  const resolved = new Map(all);
  const flags = Object.fromEntries((Object.keys(HONOURED_FLAGS) as HonouredFlag[]).map((name) => [name, resolved.get(name)!])) as Record<HonouredFlag, boolean>;
  return { flags, all, changed, errors, unsupported };
}
