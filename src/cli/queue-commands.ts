// `runner list` and `runner cancel`: what a local queue holds, and taking a
// pending job out of it (queue-jobs.ts says why a started job cannot be).
import { isJobId } from '../sources/local/job-id.ts';
import { QueueError } from '../sources/local/queue.ts';
import { cancelPendingJob, listJobs, liveClaimers, ownerPid, type QueuedJob } from '../sources/local/queue-jobs.ts';
import { UsageError } from './args.ts';
import type { QueueFlags } from './queue-flags.ts';
import { queueOf } from './queue-of.ts';

const EXIT_OK = 0;
const EXIT_FAILED = 1;

/** A duration as people read an age: 45s, 3m12s, 2h05m, 3d04h. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

function claimerOf(job: QueuedJob): string {
  if (job.owner === undefined) return '-';
  return `pid ${ownerPid(job.owner)}${job.ownerAlive ? '' : ' (dead)'}`;
}

/** The table `runner list` prints: a header, then one line a job; columns padded to their widest cell. */
export function jobTable(jobs: readonly QueuedJob[], now: number): string {
  const rows = [
    ['ID', 'STATE', 'CLAIMED BY', 'AGE', 'NAME'],
    ...jobs.map((job) => [job.id, job.state, claimerOf(job), formatAge(now - job.submittedAt), job.name ?? '(unreadable job file)']),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n') + '\n';
}

/** Runs `runner list`: the jobs on stdout, which runners serve the queue on stderr. */
export async function listCommand(flags: QueueFlags): Promise<number> {
  const queueDir = queueOf(flags);
  const jobs = await listJobs(queueDir);
  if (jobs.length > 0) process.stdout.write(jobTable(jobs, Date.now()));
  const claimers = await liveClaimers(queueDir);
  const served = claimers.length === 0
    ? 'no live runner serves it'
    : `served by runner process${claimers.length > 1 ? 'es' : ''} ${claimers.map(ownerPid).join(', ')}`;
  process.stderr.write(
    `queue ${queueDir}: ${jobs.length === 0 ? 'no job pending or running' : `${jobs.length} job${jobs.length > 1 ? 's' : ''}`}; ${served}\n`,
  );
  return EXIT_OK;
}

/** Runs `runner cancel ID...`: each pending job is removed and recorded as canceled; one line per id. */
export async function cancelCommand(flags: QueueFlags, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) throw new UsageError(`no job id given (usage: runner cancel [flags] ID...; 'runner list' shows the ids)`);
  const bad = ids.find((id) => !isJobId(id));
  if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not a job id (expected an id as 'runner submit' and 'runner list' print)`);
  const queueDir = queueOf(flags);
  let failed = false;
  for (const id of ids) {
    try {
      const result = await cancelPendingJob(queueDir, id);
      process.stdout.write(`job ${id}${result.name === null ? '' : ` ${result.name}`}: canceled (removed from the queue)\n`);
    } catch (error) {
      if (!(error instanceof QueueError)) throw error;
      process.stderr.write(`runner: ${error.message}\n`);
      failed = true;
    }
  }
  return failed ? EXIT_FAILED : EXIT_OK;
}
