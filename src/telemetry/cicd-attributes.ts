// How a job maps to the OpenTelemetry CI/CD conventions, in one place for the job's spans
// (job-tracing.ts) and the cicd.* metrics (cicd-metrics.ts), so that both say the same.
import {
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
