// GitLab's Runner API v4, the runner's side: the four calls this runner makes,
// each timed and counted, with nothing secret in what it returns or throws.
//
//   POST  /api/v4/jobs/request     ask for a job (runner token)      201 job, 204 none
//   PUT   /api/v4/jobs/:id         job state, keep-alive, final      200, 202 = send again
//   PATCH /api/v4/jobs/:id/trace   the next slice of the log         202, 416 + Range
//   POST  /api/v4/runners/verify   is the runner token valid         200, 403
import { Buffer } from 'node:buffer';
import type { CoordinatorObserver } from '../../job/source.ts';
import { randomUUID } from 'node:crypto';
import { architecture, goArch, operatingSystem, runtime } from '../../runtime/runtime.ts';
import { versionInfo } from '../../version.ts';
import { HttpClient, type HttpResponse, type StreamBody, type StreamResponse } from './http-client.ts';

export type Endpoint = 'request_job' | 'update_job' | 'patch_trace' | 'verify' | 'upload_artifacts' | 'download_artifacts';

/** Receives every request's outcome (the API metrics); status is 0 when no answer came. */
export type ApiObserver = CoordinatorObserver;

export interface ApiResponse extends HttpResponse {
  /**
   * The request's correlation id, as GitLab Runner takes it: the X-Request-Id
   * the coordinator answered with (GitLab's own correlation id), else the one
   * the request was sent with. A job's git requests carry it as
   * X-Gitaly-Correlation-ID.
   */
  readonly requestId: string;
  /** Job-Status: the coordinator's view of the job (canceling, canceled, ...). */
  readonly jobStatus: string | undefined;
  /** X-GitLab-Trace-Update-Interval in ms, when sent and sane. */
  readonly updateIntervalMs: number | undefined;
}

export const REQUEST_TIMEOUT_MS = 30_000;

/** A streamed answer: the body is the caller's to read to its end or destroy. */
export interface ApiStreamResponse extends StreamResponse {
  /** As ApiResponse's: the coordinator's X-Request-Id, else the one sent. */
  readonly requestId: string;
  /** The URL asked, for messages (GitLab Runner's CleanURL of it: no credentials, no query). */
  readonly url: URL;
}

export interface ApiStreamRequest {
  readonly endpoint: Endpoint;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** A path under /api/v4 ("/jobs/1/artifacts?..."), or an absolute URL (a redirect's Location), asked as it is. */
  readonly target: string | URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: StreamBody;
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** The coordinator's X-Request-Id when it is one (GitLab's are ULIDs or UUIDs): it goes into git's config and the job's log. */
function correlationId(value: string | undefined): string | undefined {
  return value !== undefined && /^[A-Za-z0-9_.:-]{1,128}$/.test(value) ? value : undefined;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 && n <= 3600 ? n * 1000 : undefined;
}

/** Retry-After in ms (seconds or an HTTP date), when sent. */
export function retryAfterMs(response: HttpResponse): number | undefined {
  const value = response.headers['retry-after'];
  if (value === undefined) return undefined;
  const asSeconds = seconds(value);
  if (asSeconds !== undefined) return asSeconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class GitLabApi {
  private readonly client: HttpClient;

  constructor(
    /** The coordinator's base URL, no trailing slash. */
    readonly baseUrl: string,
    caFile: string | undefined,
    private readonly observe: ApiObserver,
  ) {
    this.client = new HttpClient(caFile);
  }

  private async call(
    endpoint: Endpoint,
    method: 'POST' | 'PUT' | 'PATCH',
    path: string,
    headers: Record<string, string>,
    body: Uint8Array | string,
  ): Promise<ApiResponse> {
    const started = performance.now();
    let status = 0;
    // As GitLab Runner: a new id for every request, a UUID's hex digits.
    const requestId = randomUUID().replaceAll('-', '');
    try {
      const response = await this.client.request({
        method,
        url: new URL(`${this.baseUrl}/api/v4${path}`),
        headers: { 'user-agent': USER_AGENT, 'x-request-id': requestId, ...headers },
        body,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      status = response.status;
      return {
        ...response,
        requestId: correlationId(response.headers['x-request-id']) ?? requestId,
        jobStatus: response.headers['job-status'],
        updateIntervalMs: seconds(response.headers['x-gitlab-trace-update-interval']),
      };
    } finally {
      this.observe({ endpoint, method, status, seconds: (performance.now() - started) / 1000 });
    }
  }

  /** A JSON request, authenticated as GitLab Runner does: the token in a header (RUNNER-TOKEN or JOB-TOKEN) and in the body. */
  private json(endpoint: Endpoint, method: 'POST' | 'PUT', path: string, auth: Record<string, string>, document: unknown, accept = true): Promise<ApiResponse> {
    return this.call(
      endpoint,
      method,
      path,
      { 'content-type': 'application/json', ...(accept ? { accept: 'application/json' } : {}), ...auth },
      JSON.stringify(document),
    );
  }

  requestJob(body: { token: string } & Record<string, unknown>): Promise<ApiResponse> {
    return this.json('request_job', 'POST', '/jobs/request', { 'runner-token': body.token }, body);
  }

  updateJob(id: number, body: { token: string } & Record<string, unknown>): Promise<ApiResponse> {
    return this.json('update_job', 'PUT', `/jobs/${id}`, { 'job-token': body.token }, body, false);
  }

  /**
   * Sends bytes [start, start + chunk.length) of the log; Content-Range is
   * inclusive, without a unit, as GitLab wants it; debug_trace says whether
   * the job runs with CI_DEBUG_TRACE (GitLab Runner always sends it).
   */
  patchTrace(id: number, jobToken: string, start: number, chunk: Uint8Array, debugTrace = false): Promise<ApiResponse> {
    return this.call('patch_trace', 'PATCH', `/jobs/${id}/trace?debug_trace=${debugTrace}`, {
      'content-type': 'text/plain',
      'job-token': jobToken,
      'content-range': `${start}-${start + chunk.length - 1}`,
    }, chunk);
  }

  verify(token: string, extra: Record<string, unknown> = {}): Promise<ApiResponse> {
    return this.json('verify', 'POST', '/runners/verify', { 'runner-token': token }, { token, ...extra });
  }

  /**
   * A request whose bodies stream (artifacts): timed and counted up to the
   * response's headers, with GitLab Runner's User-Agent and X-Request-Id. The
   * headers given are sent as they are, so a redirect to another host goes
   * without the job token when the caller leaves it out.
   */
  async stream(request: ApiStreamRequest): Promise<ApiStreamResponse> {
    const started = performance.now();
    let status = 0;
    const requestId = randomUUID().replaceAll('-', '');
    const url = typeof request.target === 'string' ? new URL(`${this.baseUrl}/api/v4${request.target}`) : request.target;
    try {
      const response = await this.client.stream({
        method: request.method,
        url,
        headers: { 'user-agent': USER_AGENT, 'x-request-id': requestId, ...request.headers },
        ...(request.body === undefined ? {} : { body: request.body }),
        idleTimeoutMs: request.idleTimeoutMs,
        signal: request.signal,
      });
      status = response.status;
      return { ...response, url, requestId: correlationId(response.headers['x-request-id']) ?? requestId };
    } finally {
      this.observe({ endpoint: request.endpoint, method: request.method, status, seconds: (performance.now() - started) / 1000 });
    }
  }

  close(): void {
    this.client.close();
  }
}

/** GitLab Runner's User-Agent, with the runtime where it names its Go version. */
const USER_AGENT = `${versionInfo.name} ${versionInfo.version} (${versionInfo.branch}; ${runtime.name} ${runtime.version}; ${operatingSystem}/${
  goArch(architecture)
})`;

/** The body's first line, short and printable, for an error message. */
export function bodyExcerpt(body: Buffer): string {
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  const text = body.subarray(0, 200).toString('utf8').split('\n')[0]!.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return text === '' ? '' : `: ${text}`;
}
