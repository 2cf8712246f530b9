// `runner submit`: validates job files, puts them in a runner's local queue,
// and with --wait follows their logs until they end.
//
// Every file is validated before any is queued, so a bad file among good ones
// queues nothing. The ids go to stdout, one a line, in the order of the files.
// With --wait each job's log (done/ID.log, written by the runner while the job
// runs, already masked) is copied to stdout as it grows, in bounded chunks read
// from where the last read stopped, until done/ID.json exists and the log is
// drained; then a one-line summary goes to stderr, saying where the job's
// artifacts archive is kept and until when, if it has one.
import { type FileHandle, open } from 'node:fs/promises';
import { readTextFile } from '../config/toml-file.ts';
import { parseJobFile } from '../sources/local/job-file.ts';
import { type DoneRecord, enqueue, jobState, logPath, QueueError, readResult } from '../sources/local/queue.ts';
import { UsageError } from './args.ts';
import { PendingNotice, type WaitedQueue } from './pending-notice.ts';
import { queueCommandLine } from './queue-command-line.ts';
import type { QueueFlags } from './queue-flags.ts';
import { queueTarget } from './queue-of.ts';
import { sleep } from '../system/sleep.ts';

export interface SubmitOptions extends QueueFlags {
  readonly wait: boolean;
  readonly jobFiles: readonly string[];
}

const EXIT_OK = 0;
const EXIT_JOB_FAILED = 1;
/** 128 + SIGINT, as shells report an interrupted command. */
const EXIT_INTERRUPTED = 130;

/** Between looks at a job's result and log while waiting. */
const POLL_INTERVAL_MS = 150;
/** The most of a log held in memory at once. */
const READ_CHUNK_BYTES = 64 * 1024;

/** Writes to stdout and resolves once the chunk is handed off, so at most one chunk is buffered. */
function writeStdout(chunk: Uint8Array | string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolvePromise()));
  });
}

interface QueuedJob {
  readonly id: string;
  readonly name: string;
  /** When its file was in the queue (ms since 1970). */
  readonly queuedAt: number;
}

/**
 * Copies done/ID.log to stdout as it grows until done/ID.json exists and the
 * log is drained; resolves with the result, or undefined if `signal` aborted.
 */
async function followJob(queueDir: string, job: QueuedJob, signal: AbortSignal, notice: PendingNotice): Promise<DoneRecord | undefined> {
  const path = logPath(queueDir, job.id);
  let log: FileHandle | undefined;
  let offset = 0;
  let missing = 0;
  try {
    for (;;) {
      if (signal.aborted) return undefined;
      // The result first: the runner closes the log before it writes the
      // result, so a drain after seeing the result gets the whole log.
      const result = await readResult(queueDir, job.id);
      if (!log) {
        log = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw new QueueError(`cannot read job log ${path}: ${error.code ?? error.message}`);
        });
      }
      if (log) {
        for (;;) {
          if (signal.aborted) return undefined;
          // A fresh buffer each time: the previous one may still be queued for stdout.
          const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
          const { bytesRead } = await log.read(buffer, 0, buffer.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          await writeStdout(buffer.subarray(0, bytesRead));
        }
      }
      if (result) return result;
      // Twice, as waitForResult does: a job moving between places can hide from one look.
      const seenAt = Date.now();
      const state = await jobState(queueDir, job.id);
      missing = state === undefined ? missing + 1 : 0;
      if (state === 'pending') await notice.pending(job, seenAt);
      if (missing >= 2) throw new QueueError(`queue ${queueDir}: no job ${job.id} (not pending, claimed or done)`);
      if (state !== 'done') await sleep(POLL_INTERVAL_MS, signal);
    }
  } finally {
    await log?.close().catch(() => undefined);
  }
}

function summary(job: QueuedJob, result: DoneRecord): string {
  const head = `job ${job.id} ${result.name ?? job.name}`;
  const stored = result.artifacts;
  const artifacts = stored ? `; artifacts: ${stored.path} (${stored.expires_at === null ? 'never expires' : `expires ${stored.expires_at}`})` : '';
  if (result.state === 'success') return `${head}: success${artifacts}`;
  const details = [result.failure_reason, result.exit_code === null ? null : `exit code ${result.exit_code}`]
    .filter((part): part is string => part !== null && part !== undefined);
  return `${head}: ${result.state}${details.length > 0 ? ` (${details.join(', ')})` : ''}${artifacts}`;
}

async function waitForJobs(queue: WaitedQueue, jobs: readonly QueuedJob[]): Promise<number> {
  const queueDir = queue.dir;
  const controller = new AbortController();
  const onInterrupt = (): void => controller.abort();
  process.on('SIGINT', onInterrupt);
  let failed = false;
  const notice = new PendingNotice(queue);
  try {
    for (const [index, job] of jobs.entries()) {
      const result = await followJob(queueDir, job, controller.signal, notice);
      if (!result) {
        const left = jobs.slice(index).map((j) => j.id);
        const several = left.length > 1;
        process.stderr.write(
          `runner: interrupted: stopped waiting; job${several ? 's' : ''} ${left.join(', ')} stay${several ? '' : 's'} in queue ${queueDir} ` +
            `('${queueCommandLine('list', queue.flags)}' shows ${several ? 'them' : 'it'}; ` +
            `'${queueCommandLine('cancel', queue.flags, left)}' removes ${several ? 'those' : 'it'} if still pending)\n`,
        );
        return EXIT_INTERRUPTED;
      }
      if (result.state !== 'success') failed = true;
      process.stderr.write(`${summary(job, result)}\n`);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return failed ? EXIT_JOB_FAILED : EXIT_OK;
}

/** Runs `runner submit`; resolves with the exit code. */
export async function submitCommand(options: SubmitOptions): Promise<number> {
  if (options.jobFiles.length === 0) throw new UsageError(`no job file given (usage: runner submit [flags] JOB.toml...; see 'runner submit --help')`);
  const { queueDir, checkIntervalMs } = queueTarget(options);
  const queue: WaitedQueue = {
    dir: queueDir,
    checkIntervalMs,
    flags: { configPath: options.configPath, runnerName: options.runnerName, workingDirectory: options.workingDirectory },
  };

  // Every file first: one bad file queues nothing (a ConfigError, exit 2).
  const jobs = options.jobFiles.map((file) => {
    const text = readTextFile(file, 'job file');
    return { file, text, spec: parseJobFile(text, file) };
  });

  const queued: QueuedJob[] = [];
  try {
    for (const job of jobs) {
      // The text validated above, not a second read of the file.
      const { id } = await enqueue(queueDir, job.text, job.file);
      queued.push({ id, name: job.spec.name, queuedAt: Date.now() });
      await writeStdout(`${id}\n`);
    }
    return options.wait ? await waitForJobs(queue, queued) : EXIT_OK;
  } catch (error) {
    if (!(error instanceof QueueError)) throw error;
    process.stderr.write(`runner: ${error.message}\n`);
    return EXIT_JOB_FAILED;
  }
}
