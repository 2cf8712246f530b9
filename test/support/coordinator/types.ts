// The test coordinator's public types: what a test queues (JobSpec), the
// live view of a queued job (CoordinatorJob), and what was received.

export interface CoordinatorOptions {
  /** Serve HTTPS with this PEM key and certificate (the URL then starts with https://). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Runner authentication tokens that are valid from the start (e.g. "glrt-..."). */
  readonly runnerTokens?: readonly string[];
  /**
   * The `X-GitLab-Trace-Update-Interval` sent with accepted trace patches. GitLab
   * sends 60, or 3 while someone watches the job log (Gitlab::Ci::Trace
   * UPDATE_FREQUENCY_DEFAULT / UPDATE_FREQUENCY_WHEN_BEING_WATCHED). Default 3.
   */
  readonly traceUpdateIntervalSeconds?: number;
  /**
   * A container registry (`host:port`): GitLab then sends CI_REGISTRY,
   * CI_REGISTRY_IMAGE and a registry credential. Default none, as a GitLab
   * whose `registry.enabled` is false (Project#container_registry_variables).
   */
  readonly containerRegistry?: string;
  /** Workhorse's artifact size limit in bytes: a larger upload is answered 413. Default none. */
  readonly maxArtifactBytes?: number;
}

/** One artifact upload the coordinator accepted (POST /jobs/:id/artifacts, 201). */
export interface ArtifactUpload {
  readonly jobId: number;
  /** artifact_type (default archive). */
  readonly type: string;
  /** artifact_format (default zip). */
  readonly format: string;
  readonly expireIn: string | undefined;
  /** The multipart part's file name. */
  readonly filename: string;
  /** Where the coordinator stored the bytes (removed on close). */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

/** An `artifacts` entry as Entities::Ci::JobRequest::Artifacts renders it. */
export interface ArtifactEntry {
  readonly name: string | null;
  readonly untracked: boolean | null;
  readonly paths: readonly string[];
  readonly exclude?: readonly string[];
  readonly when: 'on_success' | 'on_failure' | 'always';
  readonly expire_in: string | null;
  readonly artifact_type: string;
  readonly artifact_format: string;
}

/** What GitLab knows of a runner (Ci::Runner#predefined_variables). */
export interface RunnerSpec {
  /** CI_RUNNER_DESCRIPTION. Default null: a runner created without a description. */
  readonly description?: string | null;
  /** CI_RUNNER_TAGS. Default none. */
  readonly tags?: readonly string[];
}

/** A project on the coordinator, as addProject returns it. */
export interface CoordinatorProject {
  readonly id: number;
  readonly fullPath: string;
  /** The repository's URL without credentials: http(s)://127.0.0.1:PORT/<fullPath>.git */
  readonly httpUrl: string;
}

/** A real git repository on disk, as createGitRepository returns it. */
export interface GitRepository {
  /** Working tree (with .git inside) or a bare repository. */
  readonly path: string;
  /** The commit the job runs (CI_COMMIT_SHA). */
  readonly sha: string;
  /** The branch (CI_COMMIT_REF_NAME). */
  readonly ref: string;
  readonly message?: string;
  readonly authorName?: string;
  readonly authorEmail?: string;
  /** Committer date, ISO 8601 (CI_COMMIT_TIMESTAMP). */
  readonly timestamp?: string;
}

export interface JobVariableSpec {
  readonly key: string;
  /** null is sent as JSON null (GitLab sends null for an unset value, e.g. CI_PROJECT_DESCRIPTION). */
  readonly value: string | null;
  readonly masked?: boolean;
  readonly file?: boolean;
  /** Default: true, false for a masked variable (as GitLab's project CI/CD variables). */
  readonly public?: boolean;
  readonly raw?: boolean;
}

export interface JobSpec {
  readonly name?: string;
  readonly stage?: string;
  /** Prepended to `script` in the script step, as GitLab does. */
  readonly beforeScript?: readonly string[];
  readonly script: readonly string[];
  readonly afterScript?: readonly string[];
  /** After GitLab's predefined variables, so a key given here wins. */
  readonly variables?: readonly JobVariableSpec[];
  /** Job timeout: runner_info.timeout and each step's timeout. Default 3600 (GitLab's project default). */
  readonly timeoutSeconds?: number;
  readonly repository?: GitRepository;
  /** The project's full path, served as /<projectPath>.git. Default `group/<repository directory name>` or `group/project`. */
  readonly projectPath?: string;
  /** git_info.depth (a project's `ci_default_git_depth`, 20 by default); 0 = full clone. */
  readonly gitDepth?: number;
  /** Replaces the generated steps entirely. */
  readonly steps?: readonly unknown[];
  /** `hooks` (Entities::Ci::JobRequest::Hook): pre_get_sources_script / post_get_sources_script. Default []. */
  readonly hooks?: readonly { readonly name: string; readonly script: readonly string[] }[];
  /** The payload's `artifacts` (null when not given, as GitLab sends without `artifacts:`). */
  readonly artifacts?: readonly ArtifactEntry[];
  /**
   * Ids of earlier jobs whose artifacts this one downloads: the payload's
   * `dependencies` (Entities::Ci::JobRequest::Dependency: id, name, token, and
   * artifacts_file {filename, size} only when the job has an archive).
   */
  readonly dependencies?: readonly number[];
  /** Merged last into the payload, e.g. `{ artifacts: [...], image: {...} }`. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /**
   * Payload fields set after `extra`, by dotted path (array items by index),
   * e.g. `{ 'git_info.before_sha': null, 'steps.0.timeout': null, image: null }`:
   * for tests of lenient decoding.
   */
  readonly override?: Readonly<Record<string, unknown>>;
  /** Variables (predefined or the job's) whose every value is sent as null. */
  readonly nullVariables?: readonly string[];
  /** CI_PROJECT_DESCRIPTION. Default null: a project without a description. */
  readonly projectDescription?: string | null;
  /** CI_PROJECT_REPOSITORY_LANGUAGES, e.g. ['shell', 'go'] (sent lower case, comma-joined). Default none. */
  readonly repositoryLanguages?: readonly string[];
  /** CI_PIPELINE_NAME (workflow:name). Default null. */
  readonly pipelineName?: string | null;
  /** CI_OPEN_MERGE_REQUESTS, e.g. ['group/project!1']; sent only when given, as GitLab does. */
  readonly openMergeRequests?: readonly string[];
  /** git_info.before_sha and CI_COMMIT_BEFORE_SHA. Default the blank SHA (a first push). */
  readonly beforeSha?: string;
  /** `features.token_mask_prefixes` (read by GitLab Runner's spec.go); not sent unless given. */
  readonly tokenMaskPrefixes?: readonly string[];
}

export type JobState = 'pending' | 'running' | 'success' | 'failed' | 'canceling' | 'canceled';

/**
 * A variable as GitLab sends it (Collection::Item#to_runner_variable): keys in
 * the order key, value, public, file, masked, raw; `file` and `raw` only when
 * true; value null where GitLab has nil.
 */
export interface RunnerVariable {
  key: string;
  value: string | null;
  public: boolean;
  file?: true;
  masked: boolean;
  raw?: true;
}

export interface GitInfo {
  repo_url: string;
  ref: string;
  sha: string;
  before_sha: string;
  ref_type: 'branch';
  refspecs: string[];
  depth: number;
  repo_object_format: 'sha1';
  protected: boolean;
}

export interface JobPayload {
  id: number;
  token: string;
  allow_git_fetch: boolean;
  job_info: Record<string, unknown>;
  git_info: GitInfo;
  runner_info: { timeout: number; runner_session_url: string | null };
  variables: RunnerVariable[];
  steps: unknown[];
  hooks: { name: string; script: string[] }[];
  features: Record<string, unknown>;
  [key: string]: unknown;
}

/** The `info` object a runner sends with POST /jobs/request. */
export interface RunnerInfo {
  name?: string;
  version?: string;
  revision?: string;
  platform?: string;
  architecture?: string;
  executor?: string;
  shell?: string;
  features?: Record<string, unknown>;
  [key: string]: unknown;
}

/** One PUT /jobs/:id as received, with the status it was answered. */
export interface JobUpdate {
  readonly body: Readonly<Record<string, unknown>>;
  readonly status: number;
  /** performance.now() when answered. */
  readonly at: number;
}

/** One PATCH /jobs/:id/trace as received, with the status it was answered. */
export interface TracePatch {
  readonly contentRange: string | undefined;
  readonly bytes: number;
  readonly status: number;
  readonly at: number;
}

/** A live view of a queued job: its properties change as the runner reports. */
export interface CoordinatorJob {
  readonly id: number;
  /** The job token (also in CI_JOB_TOKEN and in the repository URL). */
  readonly token: string;
  readonly pipelineId: number;
  readonly projectPath: string;
  /** git_info.repo_url: http(s)://gitlab-ci-token:<job token>@127.0.0.1:PORT/<projectPath>.git */
  readonly repoUrl: string;
  readonly state: JobState;
  /** Set by a `failed` update; unknown names become `unknown_failure`, as in GitLab. */
  readonly failureReason: string | undefined;
  readonly exitCode: number | undefined;
  /** Exactly the bytes accepted by trace patches, in order. */
  readonly trace: Buffer;
  readonly tracePatches: readonly TracePatch[];
  /** Every PUT /jobs/:id body received for this job, whatever it was answered. */
  readonly updates: readonly JobUpdate[];
  /** What the runner that took the job declared about itself. */
  readonly runnerInfo: RunnerInfo | undefined;
  /** The payload sent with the 201, once a runner took the job. */
  readonly payload: JobPayload | undefined;
  /** Whether the final update's `crc32:%08x` checksum matched the trace (undefined until one carried a checksum). */
  readonly finalChecksumOk: boolean | undefined;
  /** Whether the final update's output.bytesize matched the trace length (undefined until one carried it). */
  readonly finalBytesizeOk: boolean | undefined;
}

/** `git`: git smart HTTP; `lfs`: the Git LFS batch API and object downloads under /<project>.git/. */
export type Endpoint = 'request_job' | 'update_job' | 'patch_trace' | 'verify' | 'git' | 'lfs' | 'upload_artifacts' | 'download_artifacts';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query string as received. */
  readonly path: string;
  readonly endpoint: Endpoint | 'other';
  readonly status: number;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Response headers as sent, lower-case names. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** performance.now() when the request arrived (monotonic milliseconds). */
  readonly at: number;
  readonly jobId?: number;
}
