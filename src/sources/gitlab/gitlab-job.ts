// One job from a coordinator while it runs and after: the log goes up in
// PATCHes (resuming where a 416 says the server is), a keep-alive PUT goes
// out every update interval in which no log was sent, `Job-Status` on any
// answer cancels the job, and at the end the rest of the log and the final
// state are sent, retried on 202 and on errors for a bounded time.
//
// When a PATCH goes while the job runs (docs/gitlab.md, "The log"): the first
// output at once; then one PATCH each update interval with what is waiting,
// as GitLab Runner does, so a chatty job sends one small PATCH per interval,
// not one per line; and whenever a whole slice (MAX_PATCH_BYTES) or more is
// waiting, that slice goes as soon as the PATCH before it is answered, so a
// loud job's log goes up while it prints, not in one burst after an interval
// or at its end. One PATCH in flight per job, never more than one slice per
// PATCH. At the end, everything left goes back to back.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.ts';
import { sleep } from '../../system/sleep.ts';
import type { LogSink } from '../../job/log.ts';
import type { JobResult } from '../../job/result.ts';
import type { JobControl, QueueInfo, SourceJob } from '../../job/source.ts';
import type { ArtifactTransport } from '../../job/transfer.ts';
import { type ApiResponse, bodyExcerpt, type GitLabApi, retryAfterMs } from './api.ts';
import { GitLabArtifacts } from './gitlab-artifacts.ts';
import type { CoordinatorJob } from './payload.ts';
import { TraceBuffer } from './trace-buffer.ts';

/** GitLab Runner sends its trace every few seconds; 3 s here unless the server asks otherwise. */
export const DEFAULT_UPDATE_INTERVAL_MS = 3_000;
/** The largest slice of log one PATCH carries (GitLab's limit); a backlog of whole slices goes up back to back. */
export const MAX_PATCH_BYTES = 1024 * 1024;
/** How long the end of a job (rest of the log, final state) is retried before it is given up. */
export const FINAL_REPORT_LIMIT_MS = 5 * 60_000;
/** The final state's own budget once the log was given up. */
const FINAL_STATE_AFTER_LOG_MS = 30_000;

export interface GitLabJobOptions {
  readonly updateIntervalMs?: number;
  /** A keep-alive goes out after this long without a log sent; default GitLab Runner's 30 s. */
  readonly forceSendIntervalMs?: number;
  readonly finalReportLimitMs?: number;
}

/**
 * GitLab Runner's force-send interval: a running job that sent no log for
 * this long gets a keep-alive PUT (which also tells it of a cancel).
 */
export const FORCE_SEND_INTERVAL_MS = 30_000;

/** The failure reason a job gets when the runner itself stopped it (shutdown): GitLab's for a runner-side fault. */
export const SHUTDOWN_FAILURE_REASON = 'runner_system_failure';

type Gone = 'gone';

export class GitLabJob implements SourceJob {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly job: CoordinatorJob['job'];
  readonly queue: QueueInfo | undefined;
  readonly artifacts: ArtifactTransport;
  private trace: TraceBuffer | undefined;
  private control: JobControl | undefined;
  private sent = 0;
  private intervalMs: number;
  private lastContact = 0;
  private result: JobResult | undefined;
  private wake: () => void = () => undefined;
  private loop: Promise<void> | undefined;
  /** What the coordinator asked for, if it canceled the job. */
  private canceledBy: 'canceling' | 'canceled' | undefined;
  private gone = false;
  private traceFailures = 0;
  /** A PATCH is in flight (its loop picks up what arrives meanwhile). */
  private sending = false;

  constructor(
    private readonly api: GitLabApi,
    private readonly coordinatorJob: CoordinatorJob,
    private readonly traceDir: string,
    private readonly runnerName: string,
    private readonly logger: Logger,
    /** The runner's info, sent with every update as GitLab Runner does. */
    private readonly info: Record<string, unknown>,
    private readonly options: GitLabJobOptions = {},
  ) {
    this.id = String(coordinatorJob.id);
    this.name = coordinatorJob.job.name;
    this.url = coordinatorJob.webUrl ?? `${api.baseUrl}/api/v4/jobs/${coordinatorJob.id}`;
    this.job = coordinatorJob.job;
    this.queue = coordinatorJob.queue;
    this.artifacts = new GitLabArtifacts(api, coordinatorJob.id, coordinatorJob.token);
    this.intervalMs = options.updateIntervalMs ?? DEFAULT_UPDATE_INTERVAL_MS;
  }

  private get fields(): Record<string, string> {
    return { runner: this.runnerName, job: this.id };
  }

  async begin(control: JobControl): Promise<LogSink> {
    // Again each time: a temp cleaner may have removed the directory of an idle runner.
    mkdirSync(this.traceDir, { recursive: true, mode: 0o700 });
    const trace = new TraceBuffer(join(this.traceDir, `${this.id}.log`));
    this.trace = trace;
    this.control = control;
    this.lastContact = Date.now();
    this.loop = this.report();
    let first = true;
    return (chunk) => {
      trace.append(chunk);
      // The first output goes up at once (the job has visibly started), a whole slice as soon as it is there
      // and no PATCH is in flight (the one in flight sends the next whole slice itself when it is answered).
      if (first || (!this.sending && trace.size - this.sent >= MAX_PATCH_BYTES)) {
        first = false;
        this.wake();
      }
    };
  }

  async finish(result: JobResult): Promise<void> {
    this.result = result;
    this.wake();
    try {
      // A job whose log could not even be started still gets its final state, so it does not stay running there.
      await (this.loop ?? this.reportEnd());
    } finally {
      this.trace?.close();
    }
  }

  /**
   * The runner is exiting now (a second stop signal, or shutdown_timeout):
   * one quick try at telling the coordinator the job failed.
   */
  async abandon(timeoutMs: number): Promise<void> {
    if (this.gone || this.result !== undefined) return;
    const body = { token: this.coordinatorJob.token, state: 'failed', failure_reason: SHUTDOWN_FAILURE_REASON, ...this.output() };
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.api.updateJob(this.coordinatorJob.id, body).catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    // An answer in time must not leave the timer holding the exiting process.
    clearTimeout(timer);
  }

  private output(): { output: { checksum: string; bytesize: number } } | Record<string, never> {
    return this.trace ? { output: { checksum: this.trace.checksum, bytesize: this.trace.size } } : {};
  }

  /** Reacts to the coordinator's view of the job in any answer. */
  private onAnswer(response: ApiResponse): void {
    if (response.updateIntervalMs !== undefined) this.intervalMs = response.updateIntervalMs;
    this.lastContact = Date.now();
    if (this.result !== undefined) return;
    const status = response.jobStatus;
    if (status === 'canceling' && this.canceledBy === undefined) {
      this.canceledBy = 'canceling';
      this.logger.info('Job canceled by the coordinator: running after_script', this.fields);
      this.control?.cancel();
    } else if ((status === 'canceled' || status === 'failed') && this.canceledBy !== 'canceled') {
      this.canceledBy = 'canceled';
      this.logger.info('Job canceled by the coordinator', { ...this.fields, job_status: status });
      this.control?.abort();
    }
  }

  /** The job no longer exists for the coordinator (403/404): stop it, report nothing more. */
  private onGone(response: ApiResponse, what: string): Gone {
    if (!this.gone) this.logger.warn(`Coordinator refused the ${what}: the job is gone there; stopping it`, { ...this.fields, status: response.status });
    this.gone = true;
    this.control?.abort();
    return 'gone';
  }

  private async report(): Promise<void> {
    while (this.result === undefined && !this.gone) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.intervalMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      if (this.result !== undefined || this.gone) break;
      try {
        if (this.trace!.size > this.sent) await this.sendTrace();
        // A timer may fire a little early: without slack a keep-alive would skip a whole interval.
        else if (Date.now() - this.lastContact > (this.options.forceSendIntervalMs ?? FORCE_SEND_INTERVAL_MS)) await this.keepAlive();
      } catch (error) {
        // The log stays in the trace file; the next interval sends it. One line per outage, not per try.
        if (this.traceFailures++ === 0) this.logger.warn('Reporting to the coordinator failed; will retry', { ...this.fields, error: message(error) });
      }
    }
    if (!this.gone) await this.reportEnd();
  }

  /**
   * Sends the log from `sent`: while the job runs, one PATCH of what is
   * waiting, then more only while a whole slice is waiting; once it has ended,
   * everything. 'gone' when the coordinator dropped the job.
   */
  private async sendTrace(): Promise<void | Gone> {
    this.sending = true;
    try {
      return await this.sendTraceSlices();
    } finally {
      this.sending = false;
    }
  }

  /** Whether another PATCH goes at once after one was answered (see the top of the file). */
  private moreToSendNow(): boolean {
    const waiting = this.trace!.size - this.sent;
    return waiting > 0 && (this.result !== undefined || waiting >= MAX_PATCH_BYTES);
  }

  private async sendTraceSlices(): Promise<void | Gone> {
    const trace = this.trace!;
    let next = true;
    while (next && this.sent < trace.size) {
      const chunk = await trace.read(this.sent, MAX_PATCH_BYTES);
      const response = await this.api.patchTrace(this.coordinatorJob.id, this.coordinatorJob.token, this.sent, chunk, this.coordinatorJob.debugTrace);
      this.onAnswer(response);
      if (response.status === 202 || response.status === 200) {
        this.sent += chunk.length;
        this.traceFailures = 0;
        next = this.moreToSendNow();
        continue;
      }
      if (response.status === 416) {
        // Range: 0-N - the coordinator holds N bytes: go on from there.
        const held = /^0-(\d+)$/.exec(response.headers['range'] ?? '')?.[1];
        if (held === undefined) throw new Error(`trace rejected with 416 without a usable Range header`);
        const from = Math.min(Number(held), trace.size);
        // No progress (the server holds what was just offered): an error, backed off and bounded like the others.
        if (from === this.sent) throw new Error(`trace rejected with 416 at byte ${from}, where the coordinator says it is`);
        this.logger.info('Coordinator holds a different length of the log: resuming from there', { ...this.fields, from, had_sent: this.sent });
        this.sent = from;
        // The PATCH from where the coordinator is goes at once, whatever its size: it repeats one that was due.
        next = true;
        continue;
      }
      if (response.status === 403 || response.status === 404) return this.onGone(response, 'log');
      throw new Error(`trace PATCH answered ${response.status}${bodyExcerpt(response.body)}`);
    }
  }

  /** As GitLab Runner's update: the runner's info, the job token, the state, and the log's checksum and size (twice, old and new field). */
  private updateBody(state: string, extra: Record<string, unknown> = {}): { token: string } & Record<string, unknown> {
    const output = this.output();
    const checksum = 'output' in output ? { checksum: output.output.checksum } : {};
    return { info: this.info, token: this.coordinatorJob.token, state, ...extra, ...checksum, ...output };
  }

  private async keepAlive(): Promise<void> {
    const response = await this.api.updateJob(this.coordinatorJob.id, this.updateBody('running'));
    this.onAnswer(response);
    if (response.status === 403 || response.status === 404) this.onGone(response, 'keep-alive');
    else if (response.status !== 200 && response.status !== 202) throw new Error(`job update answered ${response.status}${bodyExcerpt(response.body)}`);
  }

  /**
   * The state GitLab gets. Its PUT takes only success or failed: after the
   * coordinator's own `canceling` it turns either into `canceled` (so the
   * reason is moot); a job the runner stopped itself (shutdown) is a runner
   * failure.
   */
  private finalState(result: JobResult): Record<string, unknown> {
    // GitLab Runner leaves exit_code out when it is 0.
    const exitCode = result.exitCode === undefined || result.exitCode === 0 ? {} : { exit_code: result.exitCode };
    if (result.state === 'success') return { state: 'success' };
    if (result.state === 'canceled') {
      return { state: 'failed', failure_reason: this.canceledBy !== undefined ? 'unknown_failure' : SHUTDOWN_FAILURE_REASON };
    }
    return { state: 'failed', failure_reason: supportedReason(result.failureReason ?? '', this.coordinatorJob.failureReasons), ...exitCode };
  }

  /** The rest of the log, then the final state; both retried with backoff until done or the limit. */
  private async reportEnd(): Promise<void> {
    const limitMs = this.options.finalReportLimitMs ?? FINAL_REPORT_LIMIT_MS;
    let deadline = Date.now() + limitMs;
    const never = new AbortController().signal;
    const final = this.finalState(this.result!);
    let attempt = 0;
    const pause = async (response?: ApiResponse): Promise<boolean> => {
      attempt++;
      // A 202 says when to come back in X-GitLab-Trace-Update-Interval; errors back off exponentially.
      const asked = response ? Math.max(retryAfterMs(response) ?? 0, response.updateIntervalMs ?? 0) : 0;
      const wait = Math.min(Math.max(asked, 250 * 2 ** Math.min(attempt, 6)), 30_000);
      if (Date.now() + wait > deadline) return false;
      await sleep(wait, never);
      return true;
    };
    while (this.trace !== undefined && this.trace.size > this.sent) {
      try {
        if (await this.sendTrace() === 'gone') return;
      } catch (error) {
        if (this.traceFailures++ === 0) this.logger.warn('Sending the end of the log failed; will retry', { ...this.fields, error: message(error) });
        if (!await pause()) {
          // The state matters more than the log: it still goes, with a short budget of its own.
          this.giveUp('the rest of the log');
          deadline = Date.now() + Math.min(limitMs, FINAL_STATE_AFTER_LOG_MS);
          break;
        }
      }
    }
    attempt = 0;
    for (;;) {
      let response: ApiResponse | undefined;
      try {
        response = await this.api.updateJob(this.coordinatorJob.id, this.updateBody(String(final['state']), final));
        if (response.status === 200) return;
        if (response.status === 403 || response.status === 404) {
          this.logger.warn('Coordinator refused the final update: the job is gone there', { ...this.fields, status: response.status });
          return;
        }
        // 202: accepted, not complete yet (the server is still taking the log in): send it again.
      } catch (error) {
        if (attempt === 0) this.logger.warn("Sending the job's result failed; will retry", { ...this.fields, error: message(error) });
      }
      if (!await pause(response)) return this.giveUp('the final state');
    }
  }

  private giveUp(what: string): void {
    this.logger.error(`Gave up sending ${what} to the coordinator`, {
      ...this.fields,
      after_s: ((this.options.finalReportLimitMs ?? FINAL_REPORT_LIMIT_MS) / 1000).toFixed(0),
    });
  }
}

/** GitLab Runner's reasons every coordinator takes, and what it sends instead of the others a coordinator does not list. */
const ALWAYS_SUPPORTED = ['script_failure', 'runner_system_failure', 'job_execution_timeout'];
const COMPATIBLE: Readonly<Record<string, string>> = {
  image_pull_failure: 'runner_system_failure',
  runner_configuration_error: 'script_failure',
  runner_external_dependency_failure: 'runner_system_failure',
};

/** A failure reason as the coordinator can take it (its features.failure_reasons), as GitLab Runner maps it. */
export function supportedReason(reason: string, supported: readonly string[] | undefined): string {
  if (reason === '') return 'script_failure';
  if (ALWAYS_SUPPORTED.includes(reason) || supported?.includes(reason)) return reason;
  const compatible = COMPATIBLE[reason];
  if (compatible !== undefined && (ALWAYS_SUPPORTED.includes(compatible) || supported?.includes(compatible))) return compatible;
  return 'unknown_failure';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
