// The Runner API v4 endpoints of the test coordinator, as GitLab answers
// them: job requests (with X-GitLab-Last-Update), job updates (202 while the
// trace is persisted, Job-Status, canceling -> canceled), trace patches (416
// with Range), and verify.
import type { IncomingMessage } from 'node:http';
import { crc32 } from 'node:zlib';
import { backoffSeconds, FAILURE_REASONS, parseChecksum, rubyToI } from './gitlab-rules.ts';
import { badParam, forbidden, isRecord, json, parseParams, type Reply, text } from './http.ts';
import type { QueuedJob } from './queued-job.ts';
import { requiredFeatures } from './artifacts.ts';
import type { Endpoint, JobPayload } from './types.ts';

export type ApiEndpoint = Exclude<Endpoint, 'git' | 'lfs' | 'upload_artifacts' | 'download_artifacts'>;

/** A runner as GitLab knows it (Ci::Runner): its id, description and tags. */
export interface RunnerRecord {
  readonly id: number;
  readonly description: string | null;
  readonly tags: readonly string[];
}

export class RunnerApi {
  /** Every POST /jobs/request body received (also the rejected ones). */
  readonly jobRequests: Record<string, unknown>[] = [];
  readonly verifyRequests: Record<string, unknown>[] = [];
  /** Valid runner tokens and their runners. */
  readonly runners = new Map<string, RunnerRecord>();
  readonly jobs = new Map<number, QueuedJob>();
  /** The runner queue value (Ci::Runner#ensure_runner_queue_value): changes whenever a job is queued. */
  queueValue = '';
  /** Final updates still to answer 202. */
  finalAccepts = 0;

  constructor(
    /** The X-GitLab-Trace-Update-Interval of accepted trace patches, in seconds. */
    private readonly traceInterval: string,
    private readonly payloadOf: (job: QueuedJob, runner: RunnerRecord | undefined) => JobPayload,
  ) {}

  answer(route: { endpoint: ApiEndpoint; jobId?: number }, req: IncomingMessage, body: Buffer, query: URLSearchParams): Reply {
    if (route.endpoint === 'patch_trace') return this.patchTrace(route.jobId, req, body, query);
    const params = parseParams(body, req.headers['content-type'], query);
    if (!params) return json(400, { message: '400 Bad request - the body is not valid JSON' });
    switch (route.endpoint) {
      case 'request_job':
        return this.requestJob(params);
      case 'verify':
        return this.verify(params);
      case 'update_job':
        return this.updateJob(route.jobId, params);
    }
  }

  // POST /api/v4/runners/verify: 200 with the runner's id and token
  // (Entities::Ci::RunnerRegistrationDetails; older GitLab answered the text
  // "200", which GitLab Runner still accepts), 403 for an unknown token.
  private verify(params: Record<string, unknown>): Reply {
    this.verifyRequests.push(params);
    if (typeof params['token'] !== 'string') return badParam('token is missing');
    const runner = this.runners.get(params['token']);
    if (runner === undefined) return forbidden();
    return json(200, { id: runner.id, token: params['token'], token_expires_at: null });
  }

  // POST /api/v4/jobs/request (API::Ci::Helpers::JobRequest#acquire_ci_job!).
  private requestJob(params: Record<string, unknown>): Reply {
    this.jobRequests.push(params);
    const token = params['token'];
    if (typeof token !== 'string') return badParam('token is missing');
    if (!this.runners.has(token)) return forbidden();
    const lastUpdate = typeof params['last_update'] === 'string' ? params['last_update'] : undefined;
    // The runner already saw the queue as it is: no job, without looking.
    if (lastUpdate === this.queueValue) return { status: 204, headers: { 'X-GitLab-Last-Update': lastUpdate } };
    const queueValue = this.queueValue;
    const info = isRecord(params['info']) ? params['info'] : {};
    const features = isRecord(info['features']) ? info['features'] : {};
    // Ci::RegisterJobService: a job needing a feature the runner did not declare
    // (Ci::Build#supported_runner?) is dropped as runner_unsupported, not handed out.
    let job: QueuedJob | undefined;
    for (const candidate of this.jobs.values()) {
      if (candidate.state !== 'pending') continue;
      if (requiredFeatures(candidate.spec).every((feature) => features[feature] === true)) {
        job = candidate;
        break;
      }
      candidate.state = 'failed';
      candidate.failureReason = 'runner_unsupported';
    }
    if (!job) return { status: 204, headers: { 'X-GitLab-Last-Update': queueValue } };
    job.state = 'running';
    job.startedAt = Date.now();
    job.runnerToken = token;
    job.runnerInfo = isRecord(params['info']) ? { ...params['info'] } : {};
    job.payload = this.payloadOf(job, this.runners.get(token));
    // 201 without X-GitLab-Last-Update (jobs_request_post_spec).
    return json(201, job.payload);
  }

  // PUT /api/v4/jobs/:id (Ci::UpdateBuildStateService).
  private updateJob(jobId: number | undefined, params: Record<string, unknown>): Reply {
    if (typeof params['token'] !== 'string') return badParam('token is missing');
    if (jobId === undefined) return badParam('id is invalid');
    const job = this.jobs.get(jobId);
    const update = (reply: Reply): Reply => {
      job?.updates.push({ body: params, status: reply.status, at: performance.now() });
      return reply;
    };
    const denied = this.authenticateJob(job, params['token']);
    if (denied || !job) return update(denied ?? forbidden());

    const state = typeof params['state'] === 'string' ? params['state'] : '';
    const output = isRecord(params['output']) ? params['output'] : {};
    const checksum = typeof output['checksum'] === 'string' ? output['checksum'] : typeof params['checksum'] === 'string' ? params['checksum'] : undefined;
    const headers = (): Record<string, string> => ({ 'Job-Status': job.state });

    if (state === 'running') return update(text(200, '200', headers()));
    if (state !== 'success' && state !== 'failed') return update(text(400, '400', headers()));

    // The runner's final state with a checksum while the trace is still being
    // persisted: 202 and "come back after X-GitLab-Trace-Update-Interval".
    if (checksum !== undefined && this.finalAccepts > 0) {
      this.finalAccepts--;
      job.pendingFinalSince ??= performance.now();
      const backoff = backoffSeconds(performance.now() - job.pendingFinalSince);
      return update(text(202, '202', { ...headers(), 'X-GitLab-Trace-Update-Interval': String(backoff) }));
    }

    // GitLab only logs a checksum or size mismatch; the update still succeeds.
    if (checksum !== undefined) job.finalChecksumOk = parseChecksum(checksum) === crc32(job.trace);
    if (typeof output['bytesize'] === 'number') job.finalBytesizeOk = output['bytesize'] === job.traceLength;
    if (job.state === 'canceling') {
      // "transition canceling: :canceled # runner returns success/failed"
      job.state = 'canceled';
    } else if (state === 'success') {
      job.state = 'success';
    } else {
      job.state = 'failed';
      if (typeof params['exit_code'] === 'number') job.exitCode = params['exit_code'];
      const reason = params['failure_reason'];
      job.failureReason = typeof reason === 'string' && FAILURE_REASONS.includes(reason) ? reason : 'unknown_failure';
    }
    // No X-GitLab-Trace-Update-Interval on a 200 (jobs_put_spec: "not_to have_key").
    return update(text(200, '200', headers()));
  }

  // PATCH /api/v4/jobs/:id/trace (Ci::AppendBuildTraceService).
  private patchTrace(jobId: number | undefined, req: IncomingMessage, body: Buffer, query: URLSearchParams): Reply {
    if (jobId === undefined) return badParam('id is invalid');
    const job = this.jobs.get(jobId);
    const contentRange = req.headers['content-range'];
    const patched = (reply: Reply): Reply => {
      job?.tracePatches.push({ contentRange, bytes: body.length, status: reply.status, at: performance.now() });
      return reply;
    };
    const denied = this.authenticateJob(job, query.get('token') ?? req.headers['job-token']);
    if (denied || !job) return patched(denied ?? forbidden());
    if (contentRange === undefined) return patched(json(400, { message: '400 Missing header Content-Range' }));
    // GitLab reads only the start of "START-END" and takes the end from the
    // body's length (its comment on gitlab-runner#3275).
    const start = rubyToI(contentRange.split('-')[0] ?? '');
    if (job.forceMismatch || start !== job.traceLength) {
      job.forceMismatch = false;
      // error! with only the Range header: no Job-Status on a 416.
      return patched(json(416, { message: '416 Range Not Satisfiable' }, { Range: `0-${job.traceLength}` }));
    }
    // GitLab also masks the job token in what it stores (hide_secrets); this
    // keeps exactly the bytes received, which is what the tests look at.
    job.appendTrace(body);
    return patched({
      status: 202,
      headers: { 'Job-Status': job.state, Range: `0-${job.traceLength}`, 'X-GitLab-Trace-Update-Interval': this.traceInterval },
      body: '',
    });
  }

  /**
   * API::Ci::Helpers::Runner#authenticate_job!: 403 for an unknown job or a
   * wrong token (no Job-Status); 403 with `Job-Status: <status>` when the job is
   * neither running nor canceling (finished, canceled, still pending).
   * FACTS.md says 403/404 = the job is gone; GitLab never sends 404 here on
   * purpose (gitlab#327703), only 403.
   */
  private authenticateJob(job: QueuedJob | undefined, token: unknown): Reply | undefined {
    if (!job || typeof token !== 'string' || token !== job.token) return forbidden();
    if (!job.processingOnRunner) return forbidden('Job is not processing on runner', { 'Job-Status': job.state });
    return undefined;
  }
}

/** The Runner API endpoint a request is for (lib/api/ci/runner.rb), with the job id in its path if any. */
export function apiRoute(method: string, pathname: string): { endpoint: ApiEndpoint; jobId?: number } | undefined {
  if (method === 'POST' && pathname === '/api/v4/jobs/request') return { endpoint: 'request_job' };
  if (method === 'POST' && pathname === '/api/v4/runners/verify') return { endpoint: 'verify' };
  const put = method === 'PUT' ? /^\/api\/v4\/jobs\/([^/]+)$/.exec(pathname) : null;
  if (put) return { endpoint: 'update_job', ...jobIdOf(put[1]!) };
  const patch = method === 'PATCH' ? /^\/api\/v4\/jobs\/([^/]+)\/trace$/.exec(pathname) : null;
  if (patch) return { endpoint: 'patch_trace', ...jobIdOf(patch[1]!) };
  return undefined;
}

function jobIdOf(raw: string): { jobId?: number } {
  return /^\d+$/.test(raw) ? { jobId: Number(raw) } : {};
}
