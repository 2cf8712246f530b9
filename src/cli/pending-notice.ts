// The one line `runner submit --wait` prints about a job that stays pending,
// and only when it really waits: no live runner serves its queue, or every
// runner serving it has looked at the queue since the job was queued and left
// the job there (busy, at its limit, or the job's needs have not ended), or a
// runner has not looked at the queue for longer than its check_interval
// explains.
//
// A runner stamps its claim directory at each turn of its loop (markLooked),
// busy or not, so the claim directory's mtime is when it last looked. An idle
// runner takes a new job at its next look, up to check_interval (3 s by
// default) after the job was queued, since a submit does not wake it: a fixed
// "pending after 2 s" notice fired on most submits to an idle runner.
import { type Claimer, claimerLooks, ownerPid } from '../sources/local/queue-jobs.ts';
import { formatAge } from './queue-commands.ts';
import { queueCommandLine } from './queue-command-line.ts';
import type { QueueFlags } from './queue-flags.ts';

/** No notice before a job has been pending this long. */
export const PENDING_NOTICE_MS = 2_000;
/** A look is followed by the claim within milliseconds: a job still pending this long after a look was left there. */
export const LOOK_GRACE_MS = 1_000;

/**
 * How long a job may wait for a serving runner's first look before the notice
 * says it has not polled: the config's check_interval plus as much again
 * (at least 2 s) for a late timer on a loaded machine.
 */
export function unpolledNoticeMs(checkIntervalMs: number): number {
  return Math.max(PENDING_NOTICE_MS, checkIntervalMs + Math.max(checkIntervalMs, 2_000));
}

/** The queue a `runner submit --wait` follows jobs in. */
export interface WaitedQueue {
  readonly dir: string;
  /** The flags that chose it, repeated in the commands the hints name. */
  readonly flags: QueueFlags;
  /** The config's check_interval: how often a runner reading the same config polls the queue. */
  readonly checkIntervalMs: number;
}

/** A live runner serving the queue, as the notice sees it. */
export interface ServingRunner {
  readonly owner: string;
  /** It looked at the queue after the job was queued, and the job was still pending LOOK_GRACE_MS after that look. */
  readonly leftIt: boolean;
}

export interface PendingJob {
  readonly id: string;
  /** When the job file was in the queue (ms since 1970). */
  readonly queuedAt: number;
}

/** Whether a runner that last looked at `lookedAt` had looked since the job was queued and left it, the job being pending at `now`. */
export function leftPending(lookedAt: number, job: PendingJob, now: number): boolean {
  return lookedAt >= job.queuedAt && now - lookedAt >= LOOK_GRACE_MS;
}

const processes = (owners: readonly string[]): string => `process${owners.length > 1 ? 'es' : ''} ${owners.map(ownerPid).join(', ')}`;

/** The notice for a job pending at `now`, or undefined while none is due. */
export function pendingNoticeLine(
  job: PendingJob,
  queue: WaitedQueue,
  runners: readonly ServingRunner[],
  now: number,
): string | undefined {
  const waited = now - job.queuedAt;
  if (waited < PENDING_NOTICE_MS) return undefined;
  const cancel = queueCommandLine('cancel', queue.flags, [job.id]);
  if (runners.length === 0) {
    return `runner: warning: job ${job.id} is pending in queue ${queue.dir}, which no live runner serves: ` +
      `start 'runner run' with this queue_dir; Ctrl-C stops waiting, '${cancel}' removes the job`;
  }
  const left = runners.filter((runner) => runner.leftIt).map((runner) => runner.owner);
  const unpolled = runners.filter((runner) => !runner.leftIt).map((runner) => runner.owner);
  if (unpolled.length > 0 && waited < unpolledNoticeMs(queue.checkIntervalMs)) return undefined;
  const one = runners.length === 1;
  const reasons: string[] = [];
  if (unpolled.length > 0) {
    reasons.push(
      `${one ? 'it has' : `${processes(unpolled)} ${unpolled.length > 1 ? 'have' : 'has'}`} not polled the queue yet since the job was queued ` +
        `${formatAge(waited)} ago (a check_interval longer than ${queue.checkIntervalMs / 1000}s, a pause after failed requests, or a hang: its log tells)`,
    );
  }
  if (left.length > 0) {
    reasons.push(
      `${one ? 'it' : processes(left)} polled the queue since and left the job there ` +
        `(busy with other jobs, at ${left.length > 1 ? 'their' : 'its'} limit, or the job's needs have not ended)`,
    );
  }
  return `runner: job ${job.id} is pending in queue ${queue.dir}, served by runner ${processes(runners.map((runner) => runner.owner))}: ` +
    `${reasons.join('; ')}; '${queueCommandLine('list', queue.flags)}' shows the queue`;
}

/** Gives the notice once per command, for the first job it is due for. */
export class PendingNotice {
  private given = false;

  constructor(private readonly queue: WaitedQueue) {}

  /** `seenAt`: when the look that found the job pending began (a runner's look after that may have claimed it since). */
  async pending(job: PendingJob, seenAt: number): Promise<void> {
    if (this.given || seenAt - job.queuedAt < PENDING_NOTICE_MS) return;
    const claimers: Claimer[] = await claimerLooks(this.queue.dir);
    const runners = claimers.map(({ owner, lookedAt }) => ({ owner, leftIt: leftPending(lookedAt, job, seenAt) }));
    const line = pendingNoticeLine(job, this.queue, runners, seenAt);
    if (line === undefined) return;
    this.given = true;
    process.stderr.write(`${line}\n`);
  }
}
