// What a job is, whatever source it came from (a local job file or a
// coordinator's job payload) and whatever executor runs it: GitLab Runner's
// job model (common/network.go's JobResponse), in the runner's own words.
//
// The specs of images, services, artifacts, cache and dependencies are kept
// as the coordinator sends them; which of them a run honours is the build
// sequence's and the executor's to say (build/unsupported.ts).

export interface JobVariable {
  readonly key: string;
  readonly value: string;
  /** Replaced by [MASKED] in the job log. */
  readonly masked: boolean;
  /** GitLab's file variable: the value is written to a file and the variable holds its path. */
  readonly file?: boolean;
  /** Expand `$NAME`, `${NAME}` and `$$` in the value from the job's environment (a coordinator's variables not marked raw). */
  readonly expand?: boolean;
  /**
   * false: a coordinator's variable it did not mark public (project and group CI/CD variables,
   * CI_REPOSITORY_URL with its token): never given to a service. Undefined: public.
   */
  readonly public?: boolean;
}

export interface JobRepository {
  /** May carry credentials (a coordinator's job token): never shown in the log. */
  readonly url: string;
  /** Branch, tag or commit to fetch when no refspecs are given. */
  readonly ref: string | undefined;
  /** The commit to check out; default what was fetched. */
  readonly sha?: string | undefined;
  /** Refspecs to fetch (GitLab's git_info.refspecs); default `ref`. */
  readonly refspecs?: readonly string[] | undefined;
  /** Shallow fetch depth when the job's GIT_DEPTH is not set; 0 or undefined = full. */
  readonly depth?: number | undefined;
}

/** A named step after `script` (GitLab's `release` and the like), run as stage `step_<name>`. */
export interface JobStep {
  readonly name: string;
  readonly script: readonly string[];
}

/** An image a job runs in (`image:`), or a service beside it (`services:`). */
export interface ImageSpec {
  readonly name: string;
  /** The service's host names on the job's network (services only). */
  readonly aliases: readonly string[];
  readonly entrypoint: readonly string[];
  readonly command: readonly string[];
  /** Tried in order (always, if-not-present, never); empty: the runner's setting. */
  readonly pullPolicies: readonly string[];
  /** Variables of the service's own container (services only). */
  readonly variables: readonly JobVariable[];
  /** executor_opts.docker.platform: the platform to pull (linux/arm64). */
  readonly platform?: string | undefined;
  /** executor_opts.docker.user: the user the job's commands run as (the runner's `user` wins). */
  readonly user?: string | undefined;
}

export type ArtifactWhen = 'on_success' | 'on_failure' | 'always';

/** One `artifacts:` entry: what to collect after the job and how to upload it. */
export interface ArtifactSpec {
  readonly name: string | undefined;
  readonly paths: readonly string[];
  readonly exclude: readonly string[];
  readonly untracked: boolean;
  readonly when: ArtifactWhen;
  /** archive, junit, ... (GitLab's artifact_type). */
  readonly type: string;
  /** zip, gzip or raw (GitLab's artifact_format). */
  readonly format: string;
  /** GitLab's expire_in, as sent ("1 week"); undefined: the instance's default. */
  readonly expireIn: string | undefined;
}

/**
 * As the coordinator sent it: `pull`, `push`, `pull-push`, '' (pull-push), or
 * a `$VARIABLE` the build expands before it checks it (GitLab Runner fails a
 * cache stage on an unknown policy, after expansion).
 */
export type CachePolicy = string;

/** One `cache:` entry: what to restore before the job and save after it. */
export interface CacheSpec {
  readonly key: string;
  readonly paths: readonly string[];
  readonly untracked: boolean;
  readonly policy: CachePolicy;
  readonly when: ArtifactWhen;
  /** Keys tried in order when `key` has no cache yet. */
  readonly fallbackKeys: readonly string[];
}

/** An earlier job whose artifacts this job downloads (`dependencies:`/`needs:`). */
export interface DependencySpec {
  /** The job's id at its source (GitLab's numeric id, as text). */
  readonly id: string;
  readonly name: string;
  /** Authenticates the download of that job's artifacts: a secret. */
  readonly token: string;
  /** The archive to download; undefined when that job has none. */
  readonly artifactsFile: { readonly filename: string; readonly size: number } | undefined;
}

/** A job as it is submitted, before a source gives it an id. */
export interface JobDefinition {
  readonly name: string;
  readonly script: readonly string[];
  readonly beforeScript: readonly string[];
  readonly afterScript: readonly string[];
  /** undefined: the runner's default applies. */
  readonly timeoutSeconds: number | undefined;
  /** In the source's order; later ones win. */
  readonly variables: readonly JobVariable[];
  /** A git repository to check out in get_sources (GIT_STRATEGY none, fetch or clone). */
  readonly repository?: JobRepository | undefined;
  /** Steps after `script`, in order; each runs only when everything before it succeeded. */
  readonly extraSteps?: readonly JobStep[] | undefined;
  readonly image?: ImageSpec | undefined;
  readonly services?: readonly ImageSpec[] | undefined;
  readonly artifacts?: readonly ArtifactSpec[] | undefined;
  readonly cache?: readonly CacheSpec[] | undefined;
  readonly dependencies?: readonly DependencySpec[] | undefined;
}

/** The project a coordinator's job belongs to: its jobs share build directories between them (GitLab's layout). */
export interface JobProject {
  readonly id: number;
  /** `group/subgroup/project`. */
  readonly path: string;
}

/** How the source wants the job's log and result shaped (GitLab's `features` of the job payload). */
export interface JobFeatures {
  /** `section_start`/`section_end` markers around the stages (GitLab's trace_sections). */
  readonly traceSections: boolean;
  /** Time prefixes on every log line unless the job sets FF_TIMESTAMPS (GitLab Runner: on; a local job: off). */
  readonly timestamps: boolean;
  /** Token prefixes masked besides GitLab's defaults. */
  readonly tokenMaskPrefixes: readonly string[];
}

/** A trace the job's spans join, and where they go (GitLab's features.tracing; a local job's traceparent). */
export interface JobTraceContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** The span the job's span is a child of: 16 lowercase hex digits. */
  readonly parentSpanId: string;
  /** That span's W3C trace flags (0x01: sampled): whether the job's spans are sent follows them. */
  readonly traceFlags: number;
  /** The W3C tracestate the trace carries (vendors' entries), passed on to the job's processes in TRACESTATE. */
  readonly traceState?: string | undefined;
  /** OTLP/HTTP trace URLs the coordinator wants the job's spans sent to, instead of the runner's own exporter. */
  readonly endpoints: readonly string[];
}

/** Commands GitLab runs around get_sources (the job's `hooks:`). */
export interface JobHooks {
  readonly preGetSources: readonly string[];
  readonly postGetSources: readonly string[];
}

/** A job a source handed out: its definition with the id it runs under. */
export interface Job extends JobDefinition {
  /** CI_JOB_ID; for a job without a project, also its build directory's name: letters, digits, `.`, `_`, `-`, not starting with `.`. */
  readonly id: string;
  /** Undefined for a job of no project (the local queue's): it gets a build directory of its own, removed after it. */
  readonly project?: JobProject | undefined;
  /** GIT_STRATEGY's default: fetch when the coordinator allows it (GitLab's allow_git_fetch), else clone. */
  readonly allowGitFetch?: boolean | undefined;
  readonly features?: JobFeatures | undefined;
  /** The forge the job's project lives on, where the source knows it (a GitLab coordinator's jobs: `gitlab`). */
  readonly forge?: 'gitlab' | undefined;
  /** The trace the job joins; undefined: a trace of its own. */
  readonly traceContext?: JobTraceContext | undefined;
  readonly hooks?: JobHooks | undefined;
  /** The id of the request that brought the job (X-Request-Id), sent to git as Gitaly's correlation id. */
  readonly requestId?: string | undefined;
  /** More values to mask in the log besides the masked variables (a job token, for example). */
  readonly secrets?: readonly string[] | undefined;
  /** Lines written at the top of the log (what the source could not take as sent). */
  readonly warnings?: readonly string[] | undefined;
}
