// GitLab's Runner API v4, the runner's side: the four calls this runner makes,
// each timed and counted, with nothing secret in what it returns or throws.
//
//   POST  /api/v4/jobs/request     ask for a job (runner token)      201 job, 204 none
//   PUT   /api/v4/jobs/:id         job state, keep-alive, final      200, 202 = send again
//   PATCH /api/v4/jobs/:id/trace   the next slice of the log         202, 416 + Range
//   POST  /api/v4/runners/verify   is the runner token valid         200, 403
import { Buffer } from 'node:buffer';
import type { CoordinatorObserver } from '../../job/source.ts';
import { runtime } from '../../runtime/runtime.ts';
import { versionInfo } from '../../version.ts';
import { HttpClient, type HttpResponse } from './http-client.ts';

export type Endpoint = 'request_job' | 'update_job' | 'patch_trace' | 'verify';

/** Receives every request's outcome (the API metrics); status is 0 when no answer came. */
export type ApiObserver = CoordinatorObserver;

export interface ApiResponse extends HttpResponse {
  /** Job-Status: the coordinator's view of the job (canceling, canceled, ...). */
  readonly jobStatus: string | undefined;
  /** X-GitLab-Trace-Update-Interval in ms, when sent and sane. */
  readonly updateIntervalMs: number | undefined;
}

export const REQUEST_TIMEOUT_MS = 30_000;

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
    try {
      const response = await this.client.request({
        method,
        url: new URL(`${this.baseUrl}/api/v4${path}`),
        headers: { 'user-agent': USER_AGENT, ...headers },
        body,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      status = response.status;
      return {
        ...response,
        jobStatus: response.headers['job-status'],
        updateIntervalMs: seconds(response.headers['x-gitlab-trace-update-interval']),
      };
    } finally {
      this.observe({ endpoint, method, status, seconds: (performance.now() - started) / 1000 });
    }
  }

  private json(endpoint: Endpoint, method: 'POST' | 'PUT', path: string, document: unknown): Promise<ApiResponse> {
    return this.call(endpoint, method, path, { 'content-type': 'application/json', accept: 'application/json' }, JSON.stringify(document));
  }

  requestJob(body: unknown): Promise<ApiResponse> {
    return this.json('request_job', 'POST', '/jobs/request', body);
  }

  updateJob(id: number, body: unknown): Promise<ApiResponse> {
    return this.json('update_job', 'PUT', `/jobs/${id}`, body);
  }

  /** Sends bytes [start, start + chunk.length) of the log; Content-Range is inclusive, without a unit, as GitLab wants it. */
  patchTrace(id: number, jobToken: string, start: number, chunk: Uint8Array): Promise<ApiResponse> {
    return this.call('patch_trace', 'PATCH', `/jobs/${id}/trace`, {
      'content-type': 'text/plain',
      'job-token': jobToken,
      'content-range': `${start}-${start + chunk.length - 1}`,
    }, chunk);
  }

  verify(token: string): Promise<ApiResponse> {
    return this.json('verify', 'POST', '/runners/verify', { token });
  }

  close(): void {
    this.client.close();
  }
}

const USER_AGENT =
  `${versionInfo.name} ${versionInfo.version} (${versionInfo.branch}; ${runtime.name} ${runtime.version}; ${process.platform}/${process.arch})`;

/** The body's first line, short and printable, for an error message. */
export function bodyExcerpt(body: Buffer): string {
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  const text = body.subarray(0, 200).toString('utf8').split('\n')[0]!.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return text === '' ? '' : `: ${text}`;
}
