// The GitLab bench's reference for log upload: the bench process itself acting as a perfect
// client of the coordinator. It takes a job of its own with POST /api/v4/jobs/request and the
// runner token, sends a given log as sequential PATCH /api/v4/jobs/:id/trace requests of at
// most 1 MiB (JOB-TOKEN, Content-Range START-END inclusive, as the runner sends them), each
// sent as soon as the previous one was answered, then the final PUT /api/v4/jobs/:id with
// state success and the log's checksum and size. node:http with one keep-alive connection.
//
// The coordinator answers in the same process (and event loop) as this client, so this
// reference pays for both sides of every request on one thread.

import { Buffer } from 'node:buffer';
import http from 'node:http';
import { type CoordinatorJob, type TestCoordinator, traceChecksum } from '../../test/support/coordinator/coordinator.ts';
import { WAIT_TIMEOUT_MS } from './processes.ts';

/** The user agent of the reference's requests, to tell them from the runner's in `coordinator.requests`. */
export const REFERENCE_USER_AGENT = 'runner-bench-reference';
/** The runner's slice size (MAX_PATCH_BYTES of src/sources/gitlab/gitlab-job.ts). */
export const PATCH_BYTES = 1024 * 1024;

interface Answer {
  status: number;
  body: Buffer;
}

function send(agent: http.Agent, url: string, method: string, headers: Record<string, string>, body: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      agent,
      headers: { 'user-agent': REFERENCE_USER_AGENT, ...headers, 'content-length': String(body.length) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.setTimeout(WAIT_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url}: no answer within ${WAIT_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const excerpt = (body: Buffer): string => JSON.stringify(body.subarray(0, 200).toString('utf8'));

/**
 * Takes the job `expected` (queued just before, so no other client can have taken it) and
 * uploads `log` as its trace. Returns the coordinator's live view of the job; throws when any
 * answer is not the one a perfect client gets.
 */
export async function uploadAsReference(coordinator: TestCoordinator, runnerToken: string, expected: CoordinatorJob, log: Buffer): Promise<CoordinatorJob> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const api = `${coordinator.url}/api/v4`;
  const json = { 'content-type': 'application/json', accept: 'application/json' };
  try {
    const taken = await send(
      agent,
      `${api}/jobs/request`,
      'POST',
      json,
      Buffer.from(JSON.stringify({ token: runnerToken, info: { name: REFERENCE_USER_AGENT } })),
    );
    if (taken.status !== 201) {
      throw new Error(`reference: POST /jobs/request answered ${taken.status} (the runner may have taken job ${expected.id}): ${excerpt(taken.body)}`);
    }
    const { id, token } = JSON.parse(taken.body.toString('utf8')) as { id?: unknown; token?: unknown };
    if (id !== expected.id || typeof token !== 'string') throw new Error(`reference: got job ${String(id)}, expected job ${expected.id}`);

    for (let start = 0; start < log.length; start += PATCH_BYTES) {
      const chunk = log.subarray(start, start + PATCH_BYTES);
      const patched = await send(agent, `${api}/jobs/${id}/trace`, 'PATCH', {
        'content-type': 'text/plain',
        'job-token': token,
        'content-range': `${start}-${start + chunk.length - 1}`,
      }, chunk);
      if (patched.status !== 202) throw new Error(`reference: PATCH of bytes ${start}- answered ${patched.status}: ${excerpt(patched.body)}`);
    }

    const final = { token, state: 'success', exit_code: 0, output: { checksum: traceChecksum(log), bytesize: log.length } };
    const updated = await send(agent, `${api}/jobs/${id}`, 'PUT', json, Buffer.from(JSON.stringify(final)));
    if (updated.status !== 200) throw new Error(`reference: final PUT answered ${updated.status}: ${excerpt(updated.body)}`);
    return coordinator.job(id);
  } finally {
    agent.destroy();
  }
}
