// Plain HTTP(S) requests to the test coordinator, for its own tests: full
// control over headers and body bytes, as a runner would send them.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type CoordinatorOptions, type JobPayload, type RunnerVariable, TestCoordinator } from './coordinator.ts';

export const RUNNER_TOKEN = 'glrt-test-runner-token';

export interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  json(): unknown;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | object;
  /** A CA certificate for https. */
  readonly ca?: string;
}

/** One HTTP(S) request with full control over headers and body bytes. */
export function call(url: string, options: RequestOptions = {}): Promise<Response> {
  const { body } = options;
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    ...(payload && !(typeof body === 'string' || Buffer.isBuffer(body)) ? { 'Content-Type': 'application/json' } : {}),
    ...options.headers,
  };
  if (payload) headers['Content-Length'] = String(payload.length);
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: options.method ?? 'GET', headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, json: () => JSON.parse(data.toString('utf8')) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface Client {
  requestJob(body?: object): Promise<Response>;
  update(jobId: number, body: object): Promise<Response>;
  patch(jobId: number, token: string, start: number, data: string | Buffer, contentRange?: string | null): Promise<Response>;
}

export function client(coordinator: TestCoordinator, ca?: string): Client {
  const api = `${coordinator.url}/api/v4`;
  const extra = ca ? { ca } : {};
  return {
    requestJob: (body = {}) =>
      call(`${api}/jobs/request`, { method: 'POST', body: { token: RUNNER_TOKEN, info: { name: 'test-runner', features: {} }, ...body }, ...extra }),
    update: (jobId, body) => call(`${api}/jobs/${jobId}`, { method: 'PUT', body, ...extra }),
    patch: (jobId, token, start, data, contentRange) => {
      const length = Buffer.byteLength(data);
      const range = contentRange === undefined ? `${start}-${start + length - 1}` : contentRange;
      return call(`${api}/jobs/${jobId}/trace`, {
        method: 'PATCH',
        headers: { 'JOB-TOKEN': token, 'Content-Type': 'text/plain', ...(range === null ? {} : { 'Content-Range': range }) },
        body: Buffer.from(data),
        ...extra,
      });
    },
  };
}

export async function withCoordinator(options: CoordinatorOptions, fn: (coordinator: TestCoordinator) => Promise<void>): Promise<void> {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], ...options });
  try {
    await fn(coordinator);
  } finally {
    await coordinator.close();
  }
}

/** Enqueues a job and takes it as a runner with these features. */
export async function runningJob(coordinator: TestCoordinator, features: Record<string, unknown> = {}): Promise<JobPayload> {
  coordinator.enqueueJob({ name: 'build', script: ['echo hello'], afterScript: ['echo bye'] });
  const res = await client(coordinator).requestJob({ info: { name: 'test-runner', features } });
  assert.equal(res.status, 201);
  return res.json() as JobPayload;
}

/** The status and the Job-Status header (undefined: none) of an answer. */
export function assertAnswer(res: Response, status: number, jobStatus: string | undefined): void {
  assert.equal(res.status, status);
  assert.equal(res.headers['job-status'], jobStatus, 'Job-Status');
}

export const variable = (payload: JobPayload, key: string): RunnerVariable | undefined => payload.variables.filter((v) => v.key === key).pop();
