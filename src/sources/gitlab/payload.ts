// A coordinator's job payload (POST /jobs/request, 201) as a job of the
// runner's job model. Error messages name the field, never a value: a payload
// is full of tokens.
import type { ExecutorInfo } from '../../job/executor.ts';
import type { Job, JobHooks, JobRepository, JobStep, JobTraceContext, JobVariable } from '../../job/model.ts';
import type { QueueInfo } from '../../job/source.ts';
import { shownUrl } from '../../config/otel-config.ts';
import { parseGoBool } from '../../system/go-bool.ts';
import { isTable, readArtifacts, readCache, readDependencies, readImage, readServices } from './payload-specs.ts';

/** What this runner really supports with `executor`, as it declares it in info.features. */
/** GitLab Runner's timeout of a job whose runner_info has none (common/consts.go DefaultTimeout). */
export const GITLAB_DEFAULT_TIMEOUT_SECONDS = 7200;

export function features(executor: ExecutorInfo): Record<string, boolean> {
  return {
    ...FEATURES,
    image: executor.image,
    services: executor.services,
    shared: executor.shared,
    // What the docker executor reads of images and services (GitLab's dockerFeaturesUpdater).
    service_variables: executor.services,
    service_multiple_aliases: executor.services,
    image_executor_opts: executor.image,
    service_executor_opts: executor.services,
  };
}

/** GitLab Runner's info.features, every key in its order, with what this runner does (the executor's keys set above). */
const FEATURES: Readonly<Record<string, boolean>> = {
  variables: true,
  image: false,
  services: false,
  artifacts: true,
  cache: true,
  fallback_cache_keys: true,
  shared: false,
  upload_multiple_artifacts: true,
  upload_raw_artifacts: true,
  session: false,
  terminal: false,
  refspecs: true,
  masking: true,
  proxy: false,
  raw_variables: true,
  artifacts_exclude: true,
  multi_build_steps: true,
  trace_reset: true,
  trace_checksum: true,
  trace_size: true,
  vault_secrets: false,
  cancelable: true,
  return_exit_code: true,
  service_variables: false,
  service_multiple_aliases: false,
  image_executor_opts: false,
  service_executor_opts: false,
  cancel_gracefully: true,
  native_steps_integration: false,
  two_phase_job_commit: false,
  job_inputs: false,
};

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

export interface CoordinatorJob {
  readonly id: number;
  /** The job token: authenticates this job's updates and trace; a secret. */
  readonly token: string;
  /** Where the job is shown at the coordinator (CI_JOB_URL), for the job list. */
  readonly webUrl: string | undefined;
  /** CI_DEBUG_TRACE is on: the trace goes up with debug_trace=true. */
  readonly debugTrace: boolean;
  /** The failure reasons the coordinator takes (features.failure_reasons); undefined when it does not say. */
  readonly failureReasons: readonly string[] | undefined;
  /** From job_info: how long the job was queued; undefined when GitLab does not say. */
  readonly queue: QueueInfo | undefined;
  readonly job: Job;
}

type Table = Record<string, unknown>;

const VARIABLE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** What a refspec, ref or sha may be: no leading dash (a git option), no whitespace or control characters. */
// deno-lint-ignore no-control-regex -- control characters are what this matches
const GIT_ARGUMENT = /^[^-\s\u0000-\u001f\u007f][^\s\u0000-\u001f\u007f]*$/;

function field<T>(table: Table, key: string, where: string, check: (value: unknown) => value is T, expected: string): T {
  const value = table[key];
  if (!check(value)) throw new PayloadError(`job payload: ${where}${key}: expected ${expected}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isOptionalString = (value: unknown): value is string | undefined | null => value === undefined || value === null || typeof value === 'string';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

function readVariables(payload: Table, warnings: string[]): JobVariable[] {
  const list = payload['variables'] ?? [];
  if (!Array.isArray(list)) throw new PayloadError('job payload: variables: expected an array');
  const variables: JobVariable[] = [];
  list.forEach((entry, i) => {
    // GitLab sends null for an empty value (a project without a description); GitLab Runner takes it as "".
    if (isTable(entry) && entry['value'] === null) entry = { ...entry, value: '' };
    if (!isTable(entry) || typeof entry['key'] !== 'string' || typeof entry['value'] !== 'string') {
      throw new PayloadError(`job payload: variables[${i}]: expected {key, value} strings`);
    }
    if (!VARIABLE_KEY.test(entry['key'])) {
      warnings.push(`variable ${JSON.stringify(entry['key'].slice(0, 64))} is not a valid shell variable name and was ignored`);
      return;
    }
    // Values not marked raw are expanded by the executor, from the job's whole environment (CI_PROJECT_DIR included).
    variables.push({
      key: entry['key'],
      value: entry['value'],
      masked: entry['masked'] === true,
      file: entry['file'] === true,
      expand: entry['raw'] !== true,
      public: entry['public'] === true,
    });
  });
  return variables;
}

function readSteps(payload: Table): { script: string[]; afterScript: string[]; extraSteps: JobStep[] } {
  const steps = payload['steps'];
  if (!Array.isArray(steps)) throw new PayloadError('job payload: steps: expected an array');
  let script: string[] | undefined;
  let afterScript: string[] = [];
  const extraSteps: JobStep[] = [];
  steps.forEach((step, i) => {
    if (!isTable(step)) throw new PayloadError(`job payload: steps[${i}]: expected an object`);
    const name = field(step, 'name', `steps[${i}].`, isString, 'a string');
    const lines = step['script'] === null ? [] : field(step, 'script', `steps[${i}].`, isStringArray, 'an array of strings');
    if (name === 'script') script = lines;
    else if (name === 'after_script') afterScript = lines;
    else extraSteps.push({ name, script: lines });
  });
  if (script === undefined) throw new PayloadError('job payload: steps: has no step named script');
  return { script, afterScript, extraSteps };
}

function readRepository(payload: Table): JobRepository | undefined {
  const git = payload['git_info'];
  if (!isTable(git) || typeof git['repo_url'] !== 'string' || git['repo_url'] === '') return undefined;
  const where = 'git_info.';
  const ref = field(git, 'ref', where, isOptionalString, 'a string') ?? undefined;
  const sha = field(git, 'sha', where, isOptionalString, 'a string') ?? undefined;
  const refspecs = git['refspecs'] === undefined || git['refspecs'] === null ? [] : field(git, 'refspecs', where, isStringArray, 'an array of strings');
  const depth = git['depth'];
  if (sha !== undefined && !/^[0-9a-f]{7,64}$/.test(sha)) throw new PayloadError('job payload: git_info.sha: expected a commit id (hex)');
  for (const value of [ref, ...refspecs]) {
    if (value !== undefined && !GIT_ARGUMENT.test(value)) throw new PayloadError('job payload: git_info: a ref or refspec is not a valid git argument');
  }
  return {
    url: git['repo_url'],
    ref,
    sha,
    refspecs,
    depth: typeof depth === 'number' && Number.isSafeInteger(depth) && depth > 0 ? depth : undefined,
  };
}

/** A value that says something: not null, an empty string, array or table of empty values. */
function given(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isTable(value)) return Object.values(value).some(given);
  return true;
}

/** Warnings for what of the image, services, artifacts, cache and dependencies was sent but could not be read: never dropped silently. */
function unreadableSpecs(
  payload: Table,
  specs: { image: unknown; services: unknown[]; artifacts: unknown[]; cache: unknown[]; dependencies: unknown[] },
): string[] {
  const warnings: string[] = [];
  if (given(payload['image']) && specs.image === undefined) warnings.push('job payload: image: could not be read and was ignored');
  for (const key of ['services', 'artifacts', 'cache', 'dependencies'] as const) {
    const raw = payload[key];
    const sent = Array.isArray(raw) ? raw.length : given(raw) ? 1 : 0;
    const dropped = sent - specs[key].length;
    if (dropped > 0) {
      warnings.push(`job payload: ${key}: ${dropped} ${dropped === 1 ? 'entry' : 'entries'} could not be read and ${dropped === 1 ? 'was' : 'were'} ignored`);
    }
  }
  return warnings;
}

/** The job's `hooks:`; only the first hook of each name counts, as in GitLab Runner. */
function readHooks(value: unknown): JobHooks {
  const hooks = Array.isArray(value) ? value.filter(isTable) : [];
  const script = (name: string): string[] => {
    const hook = hooks.find((entry) => entry['name'] === name);
    return Array.isArray(hook?.['script']) ? hook['script'].filter(isString) : [];
  };
  return { preGetSources: script('pre_get_sources_script'), postGetSources: script('post_get_sources_script') };
}

const PROJECT_JOBS_RUNNING = /^(?:[0-9]{1,2}\+?|\+Inf)$/;

/**
 * features.tracing (GitLab Runner's spec.Tracing): the trace the job joins, and the OTLP endpoints
 * its spans go to. What cannot be followed is warned of at the top of the log, as GitLab Runner
 * logs it, and left out: bad ids (no trace joined), URLs that do not parse (an exporter would throw
 * on them), gRPC endpoints and authenticated ones (GitLab's only kind, http_bearer_gcp_oidc, needs
 * Google Cloud credentials this runner does not read). A URL is shown without its credentials or
 * query.
 */
function readTracing(value: unknown, warnings: string[]): JobTraceContext | undefined {
  if (!isTable(value)) return undefined;
  const traceId = typeof value['trace_id'] === 'string' ? value['trace_id'].toLowerCase() : '';
  const parentSpanId = typeof value['span_parent_id'] === 'string' ? value['span_parent_id'].toLowerCase() : '';
  if (!/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId) || !/^[0-9a-f]{16}$/.test(parentSpanId) || /^0+$/.test(parentSpanId)) {
    warnings.push('job payload: features.tracing: trace_id or span_parent_id is not a valid W3C id; the job is traced on its own');
    return undefined;
  }
  const endpoints: string[] = [];
  for (const endpoint of Array.isArray(value['otel_endpoints']) ? value['otel_endpoints'] : []) {
    const url = isTable(endpoint) && typeof endpoint['url'] === 'string' ? endpoint['url'] : '';
    const auth = isTable(endpoint) && isTable(endpoint['auth']) ? endpoint['auth'] : undefined;
    const scheme = schemeOf(url);
    const shown = JSON.stringify(shownUrl(url));
    if (scheme === undefined) {
      warnings.push(
        `job payload: features.tracing: endpoint ${shown}: not a valid URL (expected one such as "https://collector:4318/v1/traces"); not sent there`,
      );
    } else if (scheme !== 'http:' && scheme !== 'https:') {
      warnings.push(`job payload: features.tracing: endpoint ${shown}: only http:// and https:// OTLP endpoints are supported; not sent there`);
    } else if (auth !== undefined) {
      warnings.push(
        `job payload: features.tracing: endpoint ${shown}: authentication ${JSON.stringify(String(auth['type']))} is not supported; not sent there`,
      );
    } else if (endpoints.length < MAX_TRACE_ENDPOINTS) {
      endpoints.push(url);
    }
  }
  // Sampled: the coordinator asked for the job's trace (GitLab Runner sets the flag for the same reason).
  return { traceId, parentSpanId, traceFlags: 0x01, endpoints };
}

/** The scheme of a URL with a host (`http:`), or undefined when it does not parse as one (as the OTLP exporter parses it). */
function schemeOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.host === '' ? undefined : parsed.protocol;
  } catch {
    return undefined;
  }
}

/** Endpoints a payload may send a job's spans to, at most. */
const MAX_TRACE_ENDPOINTS = 4;

/** job_info's queue fields (GitLab Runner's spec.JobInfo); a field of the wrong type is left out. */
function readQueueInfo(info: Table): QueueInfo | undefined {
  const waited = info['time_in_queue_seconds'];
  if (typeof waited !== 'number' || !Number.isFinite(waited) || waited < 0) return undefined;
  const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined);
  const running = info['project_jobs_running_on_instance_runners_count'];
  return {
    waitedSeconds: waited,
    size: count(info['queue_size']),
    depth: count(info['queue_depth']),
    // A metric label: only GitLab's bucket shapes ("0", "3+", "+Inf"), so a coordinator cannot make series without bound.
    projectJobsRunning: typeof running === 'string' && PROJECT_JOBS_RUNNING.test(running) ? running : undefined,
  };
}

/** Reads a 201 answer's body; throws PayloadError naming the first bad field. */
export function parseJobPayload(text: string): CoordinatorJob {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new PayloadError('job payload: not valid JSON');
  }
  if (!isTable(payload)) throw new PayloadError('job payload: expected a JSON object');
  const id = payload['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw new PayloadError('job payload: id: expected a positive integer');
  const token = field(payload, 'token', '', isString, 'a string');
  if (token === '') throw new PayloadError('job payload: token: expected a non-empty string');
  const info = isTable(payload['job_info']) ? payload['job_info'] : {};
  const name = typeof info['name'] === 'string' && info['name'] !== '' ? info['name'] : `job ${id}`;
  const runnerInfo = isTable(payload['runner_info']) ? payload['runner_info'] : {};
  const timeout = runnerInfo['timeout'];
  const warnings: string[] = [];
  const variables = readVariables(payload, warnings);
  const { script, afterScript, extraSteps } = readSteps(payload);
  const webUrl = variables.find((v) => v.key === 'CI_JOB_URL')?.value;
  const specs = {
    image: readImage(payload['image']),
    services: readServices(payload['services']),
    artifacts: readArtifacts(payload['artifacts']),
    cache: readCache(payload['cache']),
    dependencies: readDependencies(payload['dependencies']),
  };
  warnings.push(...unreadableSpecs(payload, specs));
  if (Array.isArray(payload['inputs']) && payload['inputs'].length > 0) {
    warnings.push('job payload: inputs: job inputs are not interpolated by this runner; ${{ job.inputs.* }} expressions stay as they are');
  }
  const features = isTable(payload['features']) ? payload['features'] : {};
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter(isString) : []);
  const projectId = info['project_id'];
  const projectPath = variables.findLast((v) => v.key === 'CI_PROJECT_PATH')?.value;
  const debugTrace = parseGoBool(variables.findLast((v) => v.key === 'CI_DEBUG_TRACE')?.value ?? '') === true;
  return {
    id,
    token,
    webUrl,
    debugTrace,
    failureReasons: Array.isArray(features['failure_reasons']) ? strings(features['failure_reasons']) : undefined,
    queue: readQueueInfo(info),
    job: {
      project: { id: typeof projectId === 'number' ? projectId : 0, path: typeof projectPath === 'string' ? projectPath : '' },
      allowGitFetch: payload['allow_git_fetch'] === true,
      features: {
        traceSections: features['trace_sections'] === true,
        // GitLab Runner's default (FF_TIMESTAMPS is on).
        timestamps: true,
        tokenMaskPrefixes: strings(features['token_mask_prefixes']),
      },
      forge: 'gitlab',
      traceContext: readTracing(features['tracing'], warnings),
      hooks: readHooks(payload['hooks']),
      id: String(id),
      name,
      script,
      beforeScript: [],
      afterScript,
      extraSteps,
      // GitLab Runner's DefaultTimeout when the coordinator sends none.
      timeoutSeconds: typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : GITLAB_DEFAULT_TIMEOUT_SECONDS,
      variables,
      repository: readRepository(payload),
      ...specs,
      secrets: [token],
      warnings,
    },
  };
}
