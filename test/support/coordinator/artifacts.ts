// Job artifacts for the test coordinator, as GitLab serves them
// (lib/api/ci/runner.rb POST/GET /jobs/:id/artifacts,
// Ci::JobArtifacts::CreateService, present_artifacts_file!), with
// Workhorse's part: the multipart `file` is streamed to a temporary file
// (never held), and a body over the size limit is answered 413 "Request
// Entity Too Large" as Workhorse does (the runner streams, so GitLab's own
// filesize check never sees a size). Downloads go from the file, or with
// ?direct_download=true and object storage configured, by a 302 to a second
// server acting as object storage (a presigned URL: no job token needed).
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forbidden, json, lowerCaseHeaders, type Reply, send } from './http.ts';
import type { QueuedJob } from './queued-job.ts';
import type { ArtifactUpload, JobSpec } from './types.ts';

/** Ci::JobArtifact.file_formats */
const FORMATS = ['raw', 'zip', 'gzip', 'zip_zstd', 'tar_zstd'];

/** Ci::Build::RUNNER_FEATURES that artifacts and cache bring: the features a runner must declare to be given the job. */
export function requiredFeatures(spec: JobSpec): string[] {
  const artifacts = (spec.artifacts ?? (spec.extra?.['artifacts'] as readonly Record<string, unknown>[] | null | undefined) ?? []) as readonly Record<
    string,
    unknown
  >[];
  const cache = (spec.extra?.['cache'] ?? []) as readonly Record<string, unknown>[];
  const features: string[] = [];
  // publishes_artifacts_reports?: artifacts:reports, sent as entries of another artifact_type.
  if (artifacts.some((a) => a['artifact_type'] !== undefined && a['artifact_type'] !== 'archive')) features.push('upload_multiple_artifacts');
  // supports_artifacts_exclude?
  if (artifacts.some((a) => Array.isArray(a['exclude']) && a['exclude'].length > 0)) features.push('artifacts_exclude');
  // fallback_cache_keys_defined?
  if (cache.some((c) => Array.isArray(c['fallback_keys']) && c['fallback_keys'].length > 0)) features.push('fallback_cache_keys');
  return features;
}

export interface ArtifactsConfig {
  /** Workhorse's maximum size (max_artifacts_size); undefined: no limit. */
  maxBytes?: number;
}

export class ArtifactStore {
  readonly uploads: ArtifactUpload[] = [];
  /** Requests the object storage server received (with their headers). */
  readonly storageRequests: { path: string; headers: Record<string, string>; status: number }[] = [];
  readonly config: ArtifactsConfig = {};
  /** Drop the connection of the next upload once this many body bytes have arrived. */
  dropUploadAfter: number | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'coordinator-artifacts-'));
  private storage: Server | undefined;
  private storageUrl = '';
  private readonly signatures = new Map<string, string>();
  private nextFile = 1;

  /** Starts the object storage server: from now on ?direct_download=true gets a 302 to it. */
  async enableObjectStorage(): Promise<string> {
    if (this.storage) return this.storageUrl;
    const server = createServer((req, res) => this.serveStorage(req, res));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    this.storage = server;
    this.storageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.storageUrl;
  }

  /** The archive (artifact_type archive) a job uploaded last: what GET /jobs/:id/artifacts serves. */
  archiveOf(jobId: number): ArtifactUpload | undefined {
    return this.uploads.filter((u) => u.jobId === jobId && u.type === 'archive').at(-1);
  }

  /** POST /api/v4/jobs/:id/artifacts; resolves to the status answered (0: dropped). */
  async upload(req: IncomingMessage, res: ServerResponse, job: QueuedJob | undefined, query: URLSearchParams): Promise<number> {
    const reply = (r: Reply): number => {
      // Workhorse is Go: its status line says what Go's http.StatusText does.
      if (r.status === 413) res.statusMessage = 'Request Entity Too Large';
      send(res, r);
      return r.status;
    };
    const token = req.headers['job-token'] ?? query.get('token') ?? undefined;
    if (!job || token !== job.token) return reply(await drained(req, forbidden()));
    if (!job.processingOnRunner) return reply(await drained(req, forbidden('Job is not processing on runner')));
    const type = query.get('artifact_type') ?? 'archive';
    const format = query.get('artifact_format') ?? 'zip';
    if (!FORMATS.includes(format)) return reply(await drained(req, json(400, { error: 'artifact_format does not have a valid value' })));
    const length = Number(req.headers['content-length'] ?? NaN);
    const max = this.config.maxBytes;
    if (max !== undefined && length > max) return reply(await drained(req, tooLarge()));
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
    if (!boundary) return reply(await drained(req, json(400, { error: 'file is missing' })));
    const path = join(this.dir, `upload-${this.nextFile++}`);
    const drop = this.dropUploadAfter;
    this.dropUploadAfter = undefined;
    const part = await receiveFilePart(req, `\r\n--${boundary[1] ?? boundary[2]}`, path, max, drop);
    if (part === 'dropped') return 0;
    if (part === 'too large') return reply(tooLarge());
    if (part === undefined) return reply(json(400, { error: 'file is missing' }));
    if (this.uploads.some((u) => u.jobId === job.id && u.type === type)) {
      rmSync(path, { force: true });
      return reply(json(400, { message: 'Another artifact of the same type already exists' }));
    }
    this.uploads.push({
      jobId: job.id,
      type,
      format,
      expireIn: query.get('expire_in') ?? undefined,
      filename: part.filename,
      path,
      size: part.size,
      sha256: part.sha256,
      headers: lowerCaseHeaders(req.headers),
    });
    // `status :created; body "201"`
    return reply({ status: 201, headers: { 'Content-Type': 'application/json' }, body: '201' });
  }

  /** GET /api/v4/jobs/:id/artifacts: the job's own token, or that of a running job depending on it. */
  async download(req: IncomingMessage, res: ServerResponse, job: QueuedJob | undefined, query: URLSearchParams, jobs: Iterable<QueuedJob>): Promise<number> {
    req.resume();
    const reply = (r: Reply): number => {
      send(res, r);
      return r.status;
    };
    const token = req.headers['job-token'] ?? query.get('job_token') ?? query.get('token') ?? undefined;
    const dependent = [...jobs].find((j) => j.token === token && j.processingOnRunner && (j.spec.dependencies ?? []).includes(job?.id ?? -1));
    if (!job || (token !== job.token && !dependent)) return reply(forbidden());
    const archive = this.archiveOf(job.id);
    if (!archive) return reply(json(404, { message: '404 Not Found' }));
    if (this.storage && query.get('direct_download') === 'true') {
      const signature = randomBytes(16).toString('hex');
      this.signatures.set(signature, archive.path);
      return reply({ status: 302, headers: { Location: `${this.storageUrl}/artifacts/${job.id}/${archive.filename}?X-Amz-Signature=${signature}` }, body: '' });
    }
    await streamFile(res, archive.path, archive.filename);
    return 200;
  }

  async close(): Promise<void> {
    const storage = this.storage;
    this.storage = undefined;
    if (storage) await new Promise<void>((done) => storage.close(() => done()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private serveStorage(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://storage');
    const path = this.signatures.get(url.searchParams.get('X-Amz-Signature') ?? '');
    const status = path === undefined ? 403 : 200;
    this.storageRequests.push({ path: req.url ?? '/', headers: lowerCaseHeaders(req.headers), status });
    if (path === undefined) {
      // S3's XML error, which GitLab Runner reads (getMessageFromJSONOrXMLResponse).
      send(res, {
        status: 403,
        headers: { 'Content-Type': 'application/xml' },
        body: '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
      });
      return;
    }
    void streamFile(res, path, 'artifacts');
  }
}

const tooLarge = (): Reply => ({ status: 413, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Request Entity Too Large\n' });

async function drained(req: IncomingMessage, reply: Reply): Promise<Reply> {
  for await (const _ of req) { /* discard */ }
  return reply;
}

function streamFile(res: ServerResponse, path: string, filename: string): Promise<void> {
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(statSync(path).size));
  res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  res.writeHead(200);
  return new Promise((done) => {
    const stream = createReadStream(path);
    stream.on('error', () => {
      res.destroy();
      done();
    });
    res.on('close', done);
    stream.pipe(res);
  });
}

/**
 * Streams the first part of a multipart body to `path`: its headers are read
 * from the start, its content written as it comes, holding back only as many
 * bytes as the closing delimiter has.
 */
async function receiveFilePart(
  req: IncomingMessage,
  delimiter: string,
  path: string,
  max: number | undefined,
  dropAfter: number | undefined,
): Promise<{ filename: string; size: number; sha256: string } | 'dropped' | 'too large' | undefined> {
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  const marker = Buffer.from(delimiter);
  let head: Buffer | undefined = Buffer.alloc(0);
  let filename = '';
  let held = Buffer.alloc(0);
  let size = 0;
  let received = 0;
  const write = async (data: Buffer): Promise<void> => {
    if (data.length === 0) return;
    hash.update(data);
    size += data.length;
    if (!out.write(data)) await new Promise<void>((done) => out.once('drain', () => done()));
  };
  for await (const chunk of req as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (dropAfter !== undefined && received >= dropAfter) {
      req.socket.destroy();
      out.destroy();
      rmSync(path, { force: true });
      return 'dropped';
    }
    if (max !== undefined && received > max) {
      for await (const _ of req) { /* discard */ }
      out.destroy();
      rmSync(path, { force: true });
      return 'too large';
    }
    let data = chunk;
    if (head !== undefined) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) continue;
      filename = /filename="((?:[^"\\]|\\.)*)"/.exec(head.subarray(0, end).toString('utf8'))?.[1]?.replace(/\\(.)/g, '$1') ?? '';
      data = head.subarray(end + 4);
      head = undefined;
    }
    held = Buffer.concat([held, data]);
    const keep = marker.length + 4;
    if (held.length > keep) {
      await write(held.subarray(0, held.length - keep));
      held = Buffer.from(held.subarray(held.length - keep));
    }
  }
  const end = held.indexOf(marker);
  if (head !== undefined || end < 0) {
    out.destroy();
    rmSync(path, { force: true });
    return undefined;
  }
  await write(held.subarray(0, end));
  await new Promise<void>((done, fail) => out.end((error?: Error | null) => (error ? fail(error) : done())));
  return { filename, size, sha256: hash.digest('hex') };
}
