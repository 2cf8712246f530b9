// A corpus job: a job of a public .gitlab-ci.yml (cited), the YAML GitLab
// reads for it, how it was adapted to run offline, and the log and end state
// GitLab Runner's shell executor produces for it. job-spec.ts turns the YAML
// into what the test coordinator sends (GitLab resolves the YAML server-side:
// defaults, folding of plain scalars, GIT_DEPTH into git_info.depth).
import { parse } from 'yaml';
import type { GitRepository, JobSpec, JobVariableSpec } from '../../../support/coordinator/coordinator.ts';
import type { ExpectedLog } from './gitlab-stages.ts';
import { PROJECT_PATHS, type ProjectName } from './repositories.ts';

export interface CorpusSource {
  /** owner/name of the public repository the file was read from. */
  readonly repository: string;
  readonly path: string;
  /** The commit it was read at. */
  readonly commit: string;
  /** The job's name there. */
  readonly job: string;
}

/** The end state the coordinator receives (exit_code only when not 0, as GitLab Runner sends it). */
export interface EndState {
  readonly state: 'success' | 'failed';
  readonly failureReason?: string;
  readonly exitCode?: number;
}

/** Values of one run the expectation needs (they differ from run to run). */
export interface RunValues {
  readonly jobId: number;
  readonly pipelineId: number;
  readonly serverUrl: string;
  /** host:port of the coordinator (CI_SERVER_FQDN). */
  readonly serverFqdn: string;
  readonly registry: string;
  readonly buildsDir: string;
  /** `uname -m`, what `arch` prints. */
  readonly arch: string;
  /** The commit each project's repository is at. */
  readonly shas: Readonly<Record<ProjectName, string>>;
}

export interface CorpusJob {
  readonly source: CorpusSource;
  /** The job's name as GitLab sends it (CI_JOB_NAME). */
  readonly name: string;
  /** Its key in `yaml` when that differs from the name (a parallel:matrix job). */
  readonly yamlJob?: string;
  /**
   * The pipeline's YAML as GitLab reads it for this job: the global keywords
   * it inherits and the job, with `extends`/anchors written out (the source
   * file has them spread out; the script lines are verbatim unless an
   * adaptation says otherwise).
   */
  readonly yaml: string;
  /** What was changed to run offline, and why (empty when nothing was). */
  readonly adaptations: readonly string[];
  readonly project: ProjectName;
  /** Project CI/CD variables (GitLab sends them after the YAML's). */
  readonly projectVariables?: readonly JobVariableSpec[];
  /** Commands the machine must have besides bash, coreutils and git (the test is skipped without them). */
  readonly needs?: readonly string[];
  /** Set while a difference from GitLab Runner is known: what the runner does wrong (the test then fails on purpose). */
  readonly knownBug?: string;
  /** Writes the expected log into `log` and returns the expected end state. */
  readonly expect: (log: ExpectedLog, run: RunValues) => EndState;
}

/** What GitLab sends for the job: script steps, variables, git depth (project default 20). */
export function jobSpec(job: CorpusJob, repository: GitRepository): JobSpec {
  const doc = parse(job.yaml) as Record<string, unknown>;
  const body = doc[job.yamlJob ?? job.name] as Record<string, unknown> | undefined;
  if (body === undefined) throw new Error(`${job.name}: not in its YAML`);
  const defaults = (doc['default'] ?? {}) as Record<string, unknown>;
  const pick = (key: string): unknown => body[key] ?? defaults[key] ?? doc[key];
  const variables = [...toVariables(doc['variables']), ...toVariables(body['variables']), ...(job.projectVariables ?? [])];
  const depth = [...variables].reverse().find((v) => v.key === 'GIT_DEPTH')?.value;
  // The shell executor ignores `image:` and `services:`, but GitLab sends them (Entities::Ci::JobRequest::Image).
  const image = pick('image');
  const services = pick('services');
  const imageEntity = (name: string): Record<string, unknown> => ({ name, entrypoint: null, ports: [], pull_policy: null });
  return {
    name: job.name,
    stage: typeof body['stage'] === 'string' ? body['stage'] : 'test',
    beforeScript: lines(pick('before_script')),
    script: lines(body['script']),
    ...(pick('after_script') === undefined ? {} : { afterScript: lines(pick('after_script')) }),
    variables,
    repository,
    projectPath: PROJECT_PATHS[job.project],
    // Ci::Build#git_depth: GIT_DEPTH (Ruby to_i), else the project's default of 20.
    gitDepth: depth === undefined || depth === null ? 20 : Number.parseInt(depth, 10) || 0,
    extra: {
      ...(typeof image === 'string' ? { image: imageEntity(image) } : {}),
      ...(Array.isArray(services) ? { services: services.map((s) => imageEntity(String(s))) } : {}),
    },
  };
}

/** A script keyword's lines: a string, or a list that may nest (anchors), flattened as GitLab does. */
function lines(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(lines);
  throw new Error(`not a script: ${JSON.stringify(value)}`);
}

/** `variables:` as GitLab sends them: every value a string (YAML numbers too). */
function toVariables(value: unknown): JobVariableSpec[] {
  if (value === undefined || value === null) return [];
  return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({
    key,
    value: typeof v === 'object' && v !== null && 'value' in v ? String((v as { value: unknown }).value) : String(v),
  }));
}
