// GitLab's closing line of a job that did not succeed.
import type { FailureReason, JobState } from '../job/result.ts';

export function failureLine(state: JobState, reason: FailureReason | undefined, exitCode: number | undefined, timeoutSeconds: number): string | undefined {
  if (state === 'success') return undefined;
  if (state === 'canceled') return 'ERROR: Job failed: canceled';
  switch (reason) {
    case 'job_execution_timeout':
      return `ERROR: Job failed: execution took longer than ${timeoutSeconds} seconds`;
    case 'runner_system_failure':
      return 'ERROR: Job failed (system failure): the runner could not run the job';
    default:
      return exitCode === undefined ? 'ERROR: Job failed' : `ERROR: Job failed: exit code ${exitCode}`;
  }
}
