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
  readonly value: string;
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
  /** Merged last into the payload, e.g. `{ artifacts: [...], image: {...} }`. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export type JobState = 'pending' | 'running' | 'success' | 'failed' | 'canceling' | 'canceled';

/** A variable as GitLab sends it: `file` and `raw` only when true (Collection::Item#to_runner_variable). */
export interface RunnerVariable {
  key: string;
  value: string;
  public: boolean;
  masked: boolean;
  file?: true;
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

export type Endpoint = 'request_job' | 'update_job' | 'patch_trace' | 'verify' | 'git';

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
