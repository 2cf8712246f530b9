// Where a job's project directory is, as GitLab Runner decides it for an
// executor with shared build directories (the shell executor):
// BUILDS_DIR/SHORT_TOKEN/CI_CONCURRENT_PROJECT_ID/GROUP/PROJECT, kept between
// jobs so the next job of the project fetches into the same checkout; with
// GIT_STRATEGY=empty the directory gets an `-empty` suffix; GIT_CLONE_PATH
// chooses another directory under the builds directory when the runner's
// custom_build_dir is enabled. A job of no project (the local queue's) gets
// BUILDS_DIR/JOB_ID of its own, made empty before it and removed after it.
import { isAbsolute, normalize, relative, sep } from 'node:path';
import type { JobDirectories } from '../job/executor.ts';
import type { Job } from '../job/model.ts';

/** A job that cannot run as its configuration stands (GitLab's runner_configuration_error). */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

export { shortToken } from '../job/short-token.ts';

const JOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface PlacementInput {
  readonly buildsDir: string;
  readonly shortToken: string;
  readonly concurrentProjectId: number;
  /** GIT_STRATEGY is `empty`. */
  readonly empty: boolean;
  /** GIT_CLONE_PATH as the job set it (expanded), '' for none. */
  readonly clonePath: string;
  /** `[runners.custom_build_dir] enabled`. */
  readonly customBuildDir: boolean;
  /**
   * Jobs share the build directories (the shell executor): the runner's short token and the
   * concurrent project id keep them apart. An executor with directories of each job slot's own
   * (docker) puts the project at BUILDS_DIR/GROUP/PROJECT, as GitLab Runner's.
   */
  readonly shared: boolean;
}

/** The project path of a job's repository URL, as GitLab Runner derives it (project-ID when it cannot). */
function projectPath(job: Job): string {
  const fallback = `project-${job.project?.id ?? 0}`;
  const url = job.repository?.url;
  if (url === undefined) return job.project?.path || fallback;
  try {
    const parsed = new URL(url);
    const path = normalize(decodeURIComponent(parsed.pathname)).replace(/\.git$/, '').replace(/^\/+|\/+$/g, '');
    // GitLab Runner refuses a path with `..` anywhere in it, not only as a whole segment.
    if (parsed.host === '' || path === '' || path.includes('..')) return fallback;
    return path;
  } catch {
    return fallback;
  }
}

export function jobDirectories(job: Job, input: PlacementInput): JobDirectories {
  if (job.project === undefined) {
    if (!JOB_ID.test(job.id)) throw new Error(`job id ${JSON.stringify(job.id)} cannot name a directory`);
    const projectDir = `${input.buildsDir}/${job.id}`;
    return { projectDir, tempDir: `${projectDir}.tmp`, disposable: true };
  }
  let projectDir: string;
  if (input.clonePath !== '') {
    if (!input.customBuildDir) throw new ConfigurationError('setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature');
    if (!isAbsolute(input.clonePath)) throw new ConfigurationError(`Rel: can't make ${input.clonePath} relative to ${input.buildsDir}`);
    const inside = relative(input.buildsDir, input.clonePath);
    if (inside.startsWith('..') || isAbsolute(inside)) {
      throw new ConfigurationError(`the GIT_CLONE_PATH=${JSON.stringify(input.clonePath)} has to be within ${JSON.stringify(input.buildsDir)}`);
    }
    projectDir = normalize(input.clonePath).replace(/\/+$/, '');
  } else {
    const unique = input.shared ? [input.shortToken, String(input.concurrentProjectId)] : [];
    projectDir = [input.buildsDir, ...unique, projectPath(job)].filter((part) => part !== '').join(sep);
    if (input.empty) projectDir += '-empty';
  }
  return { projectDir, tempDir: `${projectDir}.tmp`, disposable: false };
}
