// How a job maps to the OpenTelemetry CI/CD conventions, in one place for the job's spans
// (job-tracing.ts) and the cicd.* metrics (cicd-metrics.ts), so that both say the same.
import {
  ATTR_VCS_CHANGE_ID,
  ATTR_VCS_PROVIDER_NAME,
  ATTR_VCS_REF_BASE_NAME,
  ATTR_VCS_REF_HEAD_NAME,
  ATTR_VCS_REF_HEAD_REVISION,
  ATTR_VCS_REF_HEAD_TYPE,
  ATTR_VCS_REPOSITORY_NAME,
  ATTR_VCS_REPOSITORY_URL_FULL,
  CICD_PIPELINE_RESULT_VALUE_CANCELLATION,
  CICD_PIPELINE_RESULT_VALUE_ERROR,
  CICD_PIPELINE_RESULT_VALUE_FAILURE,
  CICD_PIPELINE_RESULT_VALUE_SUCCESS,
  CICD_PIPELINE_RESULT_VALUE_TIMEOUT,
  CICD_PIPELINE_TASK_RUN_RESULT_VALUE_CANCELLATION,
  CICD_PIPELINE_TASK_RUN_RESULT_VALUE_ERROR,
  CICD_PIPELINE_TASK_RUN_RESULT_VALUE_FAILURE,
  CICD_PIPELINE_TASK_RUN_RESULT_VALUE_SUCCESS,
  CICD_PIPELINE_TASK_RUN_RESULT_VALUE_TIMEOUT,
  VCS_PROVIDER_NAME_VALUE_GITLAB,
  VCS_REF_HEAD_TYPE_VALUE_BRANCH,
  VCS_REF_HEAD_TYPE_VALUE_TAG,
} from '@opentelemetry/semantic-conventions/incubating';
import type { Job, JobVariable } from '../job/model.ts';
import type { JobResult } from '../job/result.ts';

/** A job variable that may go into telemetry: present, and neither masked nor one the coordinator keeps private. */
export function publicValue(variables: readonly JobVariable[], key: string): string | undefined {
  const variable = variables.findLast((v) => v.key === key);
  if (variable === undefined || variable.masked || variable.public === false || variable.file === true || variable.value === '') return undefined;
  return variable.value;
}

/** The conventions' cicd.pipeline.name of a job: GitLab's workflow:name, else its project's path; undefined when neither is public. */
export function pipelineName(job: Pick<Job, 'variables'>): string | undefined {
  return publicValue(job.variables, 'CI_PIPELINE_NAME') ?? publicValue(job.variables, 'CI_PROJECT_PATH');
}

/** The conventions' vcs.provider.name of each forge a source can name. */
const VCS_PROVIDERS: Readonly<Record<NonNullable<Job['forge']>, string>> = { gitlab: VCS_PROVIDER_NAME_VALUE_GITLAB };

/**
 * The conventions' vcs.* attributes of a job, from its predefined variables where they are public
 * (GitLab's names; a local job has them only if its file sets them) and its source's forge.
 */
export function vcsAttributes(job: Pick<Job, 'variables' | 'forge'>): Record<string, string> {
  const value = (key: string): string | undefined => publicValue(job.variables, key);
  // GitLab sets CI_COMMIT_TAG for a tag's pipeline and CI_COMMIT_BRANCH for a branch's (neither for a merge request's).
  const headType = value('CI_COMMIT_TAG') !== undefined
    ? VCS_REF_HEAD_TYPE_VALUE_TAG
    : value('CI_COMMIT_BRANCH') !== undefined
    ? VCS_REF_HEAD_TYPE_VALUE_BRANCH
    : undefined;
  const found: Record<string, string | undefined> = {
    [ATTR_VCS_PROVIDER_NAME]: job.forge === undefined ? undefined : VCS_PROVIDERS[job.forge],
    [ATTR_VCS_REPOSITORY_NAME]: value('CI_PROJECT_NAME'),
    // CI_PROJECT_URL, never CI_REPOSITORY_URL: that one carries the job token.
    [ATTR_VCS_REPOSITORY_URL_FULL]: value('CI_PROJECT_URL'),
    [ATTR_VCS_REF_HEAD_NAME]: value('CI_COMMIT_REF_NAME'),
    [ATTR_VCS_REF_HEAD_REVISION]: value('CI_COMMIT_SHA'),
    [ATTR_VCS_REF_HEAD_TYPE]: headType,
    [ATTR_VCS_CHANGE_ID]: value('CI_MERGE_REQUEST_IID'),
    [ATTR_VCS_REF_BASE_NAME]: value('CI_MERGE_REQUEST_TARGET_BRANCH_NAME'),
  };
  return Object.fromEntries(Object.entries(found).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** How a run ended, in the words both result attributes share (their values are the same). */
type RunOutcome = 'success' | 'cancellation' | 'timeout' | 'failure' | 'error';

/** script_failure is the job's own failure; any other reason is the CI/CD system's (GitLab's "system failure" and the like). */
function outcomeOf(result: Pick<JobResult, 'state' | 'failureReason'>): RunOutcome {
  if (result.state === 'success') return 'success';
  if (result.state === 'canceled') return 'cancellation';
  if (result.failureReason === 'job_execution_timeout') return 'timeout';
  if (result.failureReason === 'script_failure') return 'failure';
  return 'error';
}

const TASK_RUN_RESULTS: Readonly<Record<RunOutcome, string>> = {
  success: CICD_PIPELINE_TASK_RUN_RESULT_VALUE_SUCCESS,
  cancellation: CICD_PIPELINE_TASK_RUN_RESULT_VALUE_CANCELLATION,
  timeout: CICD_PIPELINE_TASK_RUN_RESULT_VALUE_TIMEOUT,
  failure: CICD_PIPELINE_TASK_RUN_RESULT_VALUE_FAILURE,
  error: CICD_PIPELINE_TASK_RUN_RESULT_VALUE_ERROR,
};

const PIPELINE_RESULTS: Readonly<Record<RunOutcome, string>> = {
  success: CICD_PIPELINE_RESULT_VALUE_SUCCESS,
  cancellation: CICD_PIPELINE_RESULT_VALUE_CANCELLATION,
  timeout: CICD_PIPELINE_RESULT_VALUE_TIMEOUT,
  failure: CICD_PIPELINE_RESULT_VALUE_FAILURE,
  error: CICD_PIPELINE_RESULT_VALUE_ERROR,
};

/** The conventions' cicd.pipeline.task.run.result for a job's end (the job span). */
export function taskRunResult(result: Pick<JobResult, 'state' | 'failureReason'>): string {
  return TASK_RUN_RESULTS[outcomeOf(result)];
}

/** The conventions' cicd.pipeline.result for a job's end (the metrics, per task run). */
export function pipelineResult(result: Pick<JobResult, 'state' | 'failureReason'>): string {
  return PIPELINE_RESULTS[outcomeOf(result)];
}
