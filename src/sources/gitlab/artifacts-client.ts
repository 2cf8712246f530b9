// GitLab's artifact endpoints, the runner's side, as GitLab Runner's
// artifacts-uploader and artifacts-downloader helpers use them
// (commands/helpers/artifacts_uploader.go, artifacts_downloader.go,
// retry_helper.go, helpers/retry/retry.go, network/gitlab.go
// UploadRawArtifacts / DownloadArtifacts, network/client.go for the messages):
//
//   POST /api/v4/jobs/:id/artifacts?artifact_format=&artifact_type=&expire_in=   multipart `file`, JOB-TOKEN
//   GET  /api/v4/jobs/:id/artifacts[?direct_download=true]                       JOB-TOKEN; 302 to object storage
//
// Both stream: the upload's multipart body is read from the file as it is
// sent (its Content-Length known up front), the download goes to a file.
// Log lines come back as GitLab Runner's logrus entries, for the build to
// render as its RunnerTextFormatter does.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sleep } from '../../system/sleep.ts';
import type { ApiStreamResponse, GitLabApi } from './api.ts';
import { GarbageNudge } from '../../runtime/gc.ts';

export interface ArtifactLogEntry {
  readonly level: 'info' | 'warning' | 'error' | 'fatal';
  readonly message: string;
  readonly fields: Readonly<Record<string, string | number>>;
}
export type ArtifactLog = (entry: ArtifactLogEntry) => void;

/** spec.ArtifactFormat: zip (the default), gzip, raw, zip_zstd, tar_zstd. */
export type ArtifactFormat = 'zip' | 'gzip' | 'raw' | 'zip_zstd' | 'tar_zstd';

export interface UploadOptions {
  /** The artifact's name (--name); the multipart file name is its base name plus the format's extension. */
  readonly name?: string;
  /** artifact_type: archive, junit, ... (--artifact-type). */
  readonly type?: string;
  readonly format?: ArtifactFormat;
  /** expire_in as written in .gitlab-ci.yml ("1 week"). */
  readonly expireIn?: string;
  /** Between tries; GitLab Runner's retry.New(): 1 s doubling to 5 s. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
  /** Silence allowed before a try is given up. Default 10 min (DefaultArtifactResponseHeaderTimeout). */
  readonly idleTimeoutMs?: number;
  /** Aborting ends the upload (the job's timeout, a forced stop): no more tries. */
  readonly signal?: AbortSignal | undefined;
}

export type UploadState = 'succeeded' | 'forbidden' | 'too_large' | 'service_unavailable' | 'failed' | 'canceled';

export interface TransferResult<State> {
  readonly ok: boolean;
  readonly state: State;
  /** The last HTTP status; 0 when no answer came. */
  readonly status: number;
  readonly attempts: number;
  readonly bytes: number;
  /** GitLab Runner's FATAL line text on failure: "too large", "permission denied", ... */
  readonly error?: string;
}
export type UploadResult = TransferResult<UploadState>;

export interface DownloadOptions {
  /** Ask for ?direct_download=true (FF_USE_DIRECT_DOWNLOAD), on the first try only, as GitLab Runner does. */
  readonly directDownload?: boolean;
  /** Tries after the first (retryHelper Retry: 2). */
  readonly retries?: number;
  /** Pause between tries (retryHelper RetryTime: 1 s). */
  readonly retryDelayMs?: number;
  readonly idleTimeoutMs?: number;
  /** Aborting ends the download: no more tries. */
  readonly signal?: AbortSignal | undefined;
}

export type DownloadState = 'succeeded' | 'not_found' | 'forbidden' | 'unauthorized' | 'failed' | 'canceled';
export type DownloadResult = TransferResult<DownloadState> & { readonly host?: string };

// commands/helpers/artifacts_uploader.go
const DEFAULT_TRIES = 3;
const SERVICE_UNAVAILABLE_TRIES = 6;
const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60_000;
const MAX_REDIRECTS = 10; // Go's http.Client
const ERROR_BODY_LIMIT = 64 * 1024;

/** helpers.ShortenToken: without its known prefix, the first 9 characters. */
export function shortenToken(token: string): string {
  return token.replace(/^glrt-(t[123]_)?|^t[123]_|^glrtr-/, '').replace(/^glcbt-/, '').replace(/^GR[0-9A-Fa-f]{7}/, '').slice(0, 9);
}

/** ArtifactsUploaderCommand.artifactFilename. */
export function artifactFilename(name: string | undefined, format: ArtifactFormat | undefined): string {
  let base = name === undefined || name === '' ? '' : basename(name);
  if (base === '' || base === '.') base = 'default';
  switch (format ?? 'zip') {
    case 'zip':
    case 'zip_zstd':
      return `${base}.zip`;
    case 'gzip':
      return `${base}.gz`;
    case 'tar_zstd':
      return `${base}.tar.zst`;
    default:
      return base;
  }
}

/** A multipart/form-data body with the one `file` part, as Go's multipart.Writer.CreateFormFile writes it. */
function multipartBody(filePath: string, filename: string): { contentType: string; length: number; open: () => Readable } {
  const boundary = randomBytes(30).toString('hex');
  const escaped = filename.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${escaped}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = statSync(filePath).size;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: head.length + size + tail.length,
    open: () =>
      Readable.from((async function* () {
        yield head;
        for await (const chunk of createReadStream(filePath, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
        yield tail;
      })()),
  };
}

/**
 * Uploads one artifact file as GitLab Runner's artifacts-uploader does:
 * 201 succeeds; 403 and 413 fail at once; 503 is tried up to 6 times, any
 * other answer or a network error up to 3, with 1 s doubling to 5 s between;
 * a 307 moves to the Location's host and tries again.
 */
export async function uploadArtifact(
  api: GitLabApi,
  jobId: number,
  jobToken: string,
  filePath: string,
  options: UploadOptions,
  log: ArtifactLog,
): Promise<UploadResult> {
  const query = new URLSearchParams();
  // url.Values.Encode sorts by key; only the options given are sent.
  if (options.format) query.set('artifact_format', options.format);
  if (options.type) query.set('artifact_type', options.type);
  if (options.expireIn) query.set('expire_in', options.expireIn);
  query.sort();
  const path = `/jobs/${jobId}/artifacts?${query}`;
  const body = multipartBody(filePath, artifactFilename(options.name, options.format));
  const prefix = options.type ? `Uploading artifacts as ${JSON.stringify(options.type)} to coordinator...` : 'Uploading artifacts to coordinator...';
  const backoff = options.backoff ?? { minMs: 1000, maxMs: 5000 };
  let origin: string | undefined; // set by a 307
  let status = 0;
  const signal = options.signal ?? new AbortController().signal;
  for (let tries = 1;; tries++) {
    if (signal.aborted) return { ok: false, state: 'canceled', status, attempts: tries - 1, bytes: 0, error: 'canceled' };
    const base = { id: jobId, token: shortenToken(jobToken) };
    let outcome: { state: UploadState; error: string };
    let response: ApiStreamResponse | undefined;
    try {
      response = await api.stream({
        endpoint: 'upload_artifacts',
        method: 'POST',
        target: origin === undefined ? path : new URL(`${origin}/api/v4${path}`),
        headers: { 'job-token': jobToken, 'content-type': body.contentType },
        body,
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        signal,
      });
    } catch (error) {
      status = 0;
      const message = error instanceof Error ? error.message : String(error);
      log({ level: 'error', message: `${prefix} error`, fields: { ...base, error: message } });
      outcome = { state: 'failed', error: message };
    }
    if (response !== undefined) {
      status = response.status;
      const statusText = await messageOf(response, 'POST', false);
      const fields = { ...base, correlation_id: response.requestId, status };
      if (status === 201) {
        log({ level: 'info', message: `${prefix} ${statusText}`, fields });
        return { ok: true, state: 'succeeded', status, attempts: tries, bytes: body.length };
      }
      const location = response.headers['location'];
      if (status === 307 && location) {
        const moved = new URL(location, response.url);
        origin = moved.origin;
        log({ level: 'info', message: 'Upload request redirected', fields: { location, 'new-url': origin } });
        outcome = { state: 'failed', error: 'request redirected' };
      } else if (status === 403) {
        log({ level: 'error', message: `${prefix} ${statusText}`, fields });
        return { ok: false, state: 'forbidden', status, attempts: tries, bytes: 0, error: 'permission denied' };
      } else if (status === 413) {
        log({ level: 'error', message: `${prefix} ${statusText}`, fields });
        return { ok: false, state: 'too_large', status, attempts: tries, bytes: 0, error: 'too large' };
      } else if (status === 503) {
        log({ level: 'error', message: `${prefix} ${statusText}`, fields });
        outcome = { state: 'service_unavailable', error: 'service unavailable' };
      } else {
        log({ level: status === 307 ? 'error' : 'warning', message: `${prefix} ${statusText}${status === 307 ? ' empty location' : ''}`, fields });
        outcome = { state: 'failed', error: 'upload failed with no response from coordinator' };
      }
    }
    if (signal.aborted) return { ok: false, state: 'canceled', status, attempts: tries, bytes: 0, error: 'canceled' };
    const maxTries = outcome!.state === 'service_unavailable' ? SERVICE_UNAVAILABLE_TRIES : DEFAULT_TRIES;
    if (tries >= maxTries) return { ok: false, state: outcome!.state, status, attempts: tries, bytes: 0, error: outcome!.error };
    log({ level: 'warning', message: 'Retrying...', fields: { context: 'artifacts-uploader', error: outcome!.error } });
    // jpillora/backoff: Min doubled per try, at most Max, no jitter.
    await sleep(Math.min(backoff.maxMs, backoff.minMs * 2 ** (tries - 1)), signal);
  }
}

/**
 * Downloads a job's artifacts archive to `destPath` as GitLab Runner's
 * artifacts-downloader does: 3 tries 1 s apart for failures (not for 401,
 * 403 or 404). Redirects (to object storage) are followed; the job token
 * goes only to the coordinator's own origin.
 */
export async function downloadArtifacts(
  api: GitLabApi,
  jobId: number,
  jobToken: string,
  destPath: string,
  options: DownloadOptions,
  log: ArtifactLog,
): Promise<DownloadResult> {
  const retries = options.retries ?? 2;
  const signal = options.signal ?? new AbortController().signal;
  let result: DownloadResult | undefined;
  for (let retry = 0; retry <= retries; retry++) {
    if (retry > 0) {
      await sleep(options.retryDelayMs ?? 1000, signal);
      if (signal.aborted) return { ok: false, state: 'canceled', status: 0, attempts: retry, bytes: 0, error: 'canceled' };
      log({ level: 'warning', message: 'Retrying...', fields: { error: 'invalid argument' } });
    }
    result = await downloadOnce(api, jobId, jobToken, destPath, options.directDownload === true && retry === 0, options, log, retry + 1);
    if (result.state !== 'failed') return result;
  }
  return result!;
}

async function downloadOnce(
  api: GitLabApi,
  jobId: number,
  jobToken: string,
  destPath: string,
  direct: boolean,
  options: DownloadOptions,
  log: ArtifactLog,
  attempts: number,
): Promise<DownloadResult> {
  const prefix = 'Downloading artifacts from coordinator...';
  const base = { id: jobId, token: shortenToken(jobToken) };
  const fail = (state: DownloadState, status: number): DownloadResult => ({
    ok: false,
    state,
    status,
    attempts,
    bytes: 0,
    error: state === 'not_found' ? 'file does not exist' : state === 'failed' ? 'invalid argument' : 'permission denied',
  });
  let target: string | URL = `/jobs/${jobId}/artifacts${direct ? '?direct_download=true' : ''}`;
  const coordinator = new URL(api.baseUrl).origin;
  let correlationId: string | undefined;
  let response: ApiStreamResponse;
  for (let redirects = 0;; redirects++) {
    const sameOrigin = typeof target === 'string' || target.origin === coordinator;
    try {
      response = await api.stream({
        endpoint: 'download_artifacts',
        method: 'GET',
        target,
        headers: sameOrigin ? { 'job-token': jobToken } : {},
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        signal: options.signal,
      });
    } catch (error) {
      log({ level: 'error', message: `${prefix} error`, fields: { ...base, error: error instanceof Error ? error.message : String(error) } });
      return fail('failed', 0);
    }
    correlationId ??= response.requestId;
    const location = response.headers['location'];
    if (![301, 302, 303, 307, 308].includes(response.status) || !location || redirects >= MAX_REDIRECTS) break;
    response.body.resume();
    target = new URL(location, response.url);
    if (direct && redirects === 0) log({ level: 'info', message: `Direct download from ${target.host}`, fields: { ...base, correlation_id: correlationId } });
  }
  const fields = { ...base, correlation_id: correlationId, host: response.url.host, status: response.status };
  switch (response.status) {
    case 200:
      try {
        const nudge = new GarbageNudge({ onNode: false });
        response.body.on('data', (chunk: Buffer) => nudge.add(chunk.length));
        await pipeline(response.body, createWriteStream(destPath));
      } catch (error) {
        log({ level: 'error', message: `${prefix} error`, fields: { ...fields, error: error instanceof Error ? error.message : String(error) } });
        return fail('failed', 200);
      }
      log({ level: 'info', message: `${prefix} ok`, fields });
      return { ok: true, state: 'succeeded', status: 200, attempts, bytes: statSync(destPath).size, host: response.url.host };
    case 403:
      log({ level: 'error', message: `${prefix} forbidden`, fields: { ...fields, status: await messageOf(response, 'GET', true) } });
      return fail('forbidden', 403);
    case 401:
      response.body.resume();
      log({ level: 'error', message: `${prefix} unauthorized`, fields: { ...fields, status: response.statusText } });
      return fail('unauthorized', 401);
    case 404:
      response.body.resume();
      log({ level: 'error', message: `${prefix} not found`, fields });
      return fail('not_found', 404);
    default:
      response.body.resume();
      log({ level: 'warning', message: `${prefix} failed`, fields: { ...fields, status: response.statusText } });
      return fail('failed', response.status);
  }
}

/**
 * getMessageFromJSONResponse / getMessageFromJSONOrXMLResponse: the status
 * line for 2xx; for a JSON error GitLab Runner's ResponseError text
 * ("POST <url>: 403 Forbidden (message)"); for an object storage XML error
 * "403 Forbidden (Code: Message)". Reads (a bounded part of) the body.
 */
async function messageOf(response: ApiStreamResponse, method: string, xml: boolean): Promise<string> {
  if (response.status >= 200 && response.status <= 299) {
    response.body.resume();
    return response.statusText;
  }
  const text = await readBounded(response.body);
  const mime = (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/json') {
    let message = '';
    try {
      const parsed: unknown = JSON.parse(text);
      const value = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['message'] : undefined;
      message = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    } catch {
      return response.statusText;
    }
    const clean = new URL(response.url.href);
    clean.search = '';
    clean.username = '';
    clean.password = '';
    const described = `${method} ${clean.href}: ${response.statusText}`;
    return message === response.statusText ? described : `${described} (${message})`;
  }
  if (xml && (mime === 'application/xml' || mime === 'text/xml')) {
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? '';
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
    return code === '' ? response.statusText : `${response.statusText} (${code}: ${message})`;
  }
  return response.statusText;
}

async function readBounded(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      if (size < ERROR_BODY_LIMIT) parts.push(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch {
    // What arrived is enough for a message.
  }
  return Buffer.concat(parts).subarray(0, ERROR_BODY_LIMIT).toString('utf8');
}
