// A job as the executor runs it, whatever source it came from (a local job
// file or a coordinator's job payload).

export interface JobVariable {
  readonly key: string;
  readonly value: string;
  /** Replaced by [MASKED] in the job log. */
  readonly masked: boolean;
  /** GitLab's file variable: the value is written to a file and the variable holds its path. */
  readonly file?: boolean;
  /** Expand `$NAME`, `${NAME}` and `$$` in the value from the job's environment (a coordinator's variables not marked raw). */
  readonly expand?: boolean;
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

export interface ExecutableJob {
  /** Names the build directory and is CI_JOB_ID: letters, digits, `.`, `_`, `-`, not starting with `.`. */
  readonly id: string;
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
  /** More values to mask in the log besides the masked variables (a job token, for example). */
  readonly secrets?: readonly string[] | undefined;
  /** Lines written at the top of the log (what the job asked for that is not supported). */
  readonly warnings?: readonly string[] | undefined;
}
