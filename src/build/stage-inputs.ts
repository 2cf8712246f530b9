// What each stage script is written from, decided by the plan alone: the
// get_sources plan (hooks in GitLab Runner's order, git's user agent and
// correlation id), the parts of a script step (CI_JOB_STATUS once the script
// has run), a step's commands and its stage label.
import type { Job } from '../job/model.ts';
import type { BuildStage } from '../job/result.ts';
import { architecture, goArch, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';
import type { BuildOptions } from './build.ts';
import { expand } from './expand.ts';
import { listLookup } from './job-variables.ts';
import type { BuildPlan } from './plan.ts';
import type { SourcesPlan } from './shell/sources.ts';
import type { StepParts } from './shell/stage-scripts.ts';

/** A step name as a stage label can hold it. */
export function stepStage(name: string): BuildStage {
  const lower = name.toLowerCase();
  return /^[a-z0-9_]{1,64}$/.test(lower) ? `step_${lower}` : 'step_other';
}

/**
 * FF_SCRIPT_SECTIONS shows multi-line commands whole only where the
 * coordinator reads sections (GitLab Runner's condition).
 */
export function scriptSections(job: Job, plan: BuildPlan): boolean {
  return plan.flags.flags.FF_SCRIPT_SECTIONS && job.features?.traceSections === true;
}

/**
 * get_sources' plan. `sharedWithJob`: it runs on the runner's host in a directory the job's code
 * shares, and takes the runner's pre/post_get_sources_script only (the job's hooks would run on
 * the host).
 */
export function sourcesPlanOf(
  job: Job,
  plan: BuildPlan,
  options: BuildOptions,
  repository: NonNullable<Job['repository']>,
  sharedWithJob = false,
): SourcesPlan {
  const scripts = options.runner.scripts;
  const hooks = sharedWithJob ? undefined : job.hooks;
  return {
    repository,
    settings: plan.settings,
    variables: plan.variables,
    projectDir: plan.directories!.projectDir,
    tempDir: plan.directories!.tempDir,
    hooks: {
      pre: [...(scripts.preGetSources ? [scripts.preGetSources] : []), ...(hooks?.preGetSources ?? [])],
      post: [...(hooks?.postGetSources ?? []), ...(scripts.postGetSources ? [scripts.postGetSources] : [])],
    },
    userAgent: `${versionInfo.name} ${versionInfo.version} ${operatingSystem}/${goArch(architecture)}`,
    correlationId: plan.flags.flags.FF_USE_GITALY_CORRELATION_ID ? job.requestId : undefined,
    bundleUris: plan.flags.flags.FF_USE_GIT_BUNDLE_URIS,
    caFile: plan.variables.some((v) => v.key === 'CI_SERVER_TLS_CA_FILE'),
    coordinatorUrl: options.runner.coordinatorUrl,
    scriptSections: scriptSections(job, plan),
    sharedWithJob,
  };
}

/** The parts of a script step; with STATUS (after the script), CI_JOB_STATUS reads it. */
export function stepPartsOf(job: Job, plan: BuildPlan, status?: string): StepParts {
  let variables = plan.variables;
  if (status !== undefined) {
    // GitLab Runner sets the first CI_JOB_STATUS of the list: a job that defines its own still wins.
    const first = variables.findIndex((v) => v.key === 'CI_JOB_STATUS');
    variables = variables.map((v, i) => (i === first ? { ...v, value: status } : v));
  }
  return { variables, tempDir: plan.directories!.tempDir, projectDir: plan.directories!.projectDir, scriptSections: scriptSections(job, plan) };
}

/**
 * A step's commands; GitLab's `release` step (which the coordinator makes
 * from the job's `release:`) expanded against the job's variables first,
 * as GitLab Runner does: its `release-cli` line may hold `$VAR` in single
 * quotes.
 */
export function stepCommands(plan: BuildPlan, step: { readonly name: string; readonly script: readonly string[] }): readonly string[] {
  if (step.name !== 'release') return step.script;
  const lookup = listLookup(plan.variables, plan.directories!.tempDir);
  return step.script.map((line) => expand(line, lookup));
}
