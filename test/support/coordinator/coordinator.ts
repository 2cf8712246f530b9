// A test coordinator that speaks the server side of GitLab's Runner API v4,
// so the runner's GitLab client can be tested against GitLab's documented
// behaviour without a GitLab instance. Plain node:http / node:https, so it
// runs on Node, Bun and Deno alike.
//
// Sources (checked, not copied): GitLab's lib/api/ci/runner.rb,
// lib/api/ci/helpers/runner.rb, lib/api/ci/helpers/job_request.rb,
// app/services/ci/update_build_state_service.rb,
// app/services/ci/append_build_trace_service.rb, lib/gitlab/ci/trace.rb,
// lib/gitlab/ci/runner/backoff.rb, the entities under
// lib/api/entities/ci/job_request/, the request specs under
// spec/requests/api/ci/runner/, and GitLab Runner's network/gitlab.go,
// network/remote_job_state_response.go and network/patch_response.go.
// Where /work/shared/FACTS.md and GitLab differ, GitLab wins and the comment
// at the spot says so ("FACTS.md differs").
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

// ---------------------------------------------------------------------------
// Public types

export interface CoordinatorOptions {
  /** Serve HTTPS with this PEM key and certificate (the URL then starts with https://). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Runner authentication tokens that are valid from the start (e.g. "glrt-..."). */
  readonly runnerTokens?: readonly string[];
  /**
   * The `X-GitLab-Trace-Update-Interval` sent with accepted trace patches. GitLab
   * sends 60, or 3 while someone watches the job log (Gitlab::Ci::Trace
   * UPDATE_FREQUENCY_DEFAULT / UPDATE_FREQUENCY_WHEN_BEING_WATCHED). Default 3.
   */
  readonly traceUpdateIntervalSeconds?: number;
}

/** A real git repository on disk, as createGitRepository returns it. */
export interface GitRepository {
  /** Working tree (with .git inside) or a bare repository. */
  readonly path: string;
  /** The commit the job runs (CI_COMMIT_SHA). */
  readonly sha: string;
  /** The branch (CI_COMMIT_REF_NAME). */
  readonly ref: string;
  readonly message?: string;
  readonly authorName?: string;
  readonly authorEmail?: string;
  /** Committer date, ISO 8601 (CI_COMMIT_TIMESTAMP). */
  readonly timestamp?: string;
}

export interface JobVariableSpec {
  readonly key: string;
  readonly value: string;
  readonly masked?: boolean;
  readonly file?: boolean;
  /** Default: true, false for a masked variable (as GitLab's project CI/CD variables). */
  readonly public?: boolean;
  readonly raw?: boolean;
}

export interface JobSpec {
  readonly name?: string;
  readonly stage?: string;
  /** Prepended to `script` in the script step, as GitLab does. */
  readonly beforeScript?: readonly string[];
  readonly script: readonly string[];
  readonly afterScript?: readonly string[];
  /** After GitLab's predefined variables, so a key given here wins. */
  readonly variables?: readonly JobVariableSpec[];
  /** Job timeout: runner_info.timeout and each step's timeout. Default 3600 (GitLab's project default). */
  readonly timeoutSeconds?: number;
  readonly repository?: GitRepository;
  /** The project's full path, served as /<projectPath>.git. Default `group/<repository directory name>` or `group/project`. */
  readonly projectPath?: string;
  /** git_info.depth (a project's `ci_default_git_depth`, 20 by default); 0 = full clone. */
  readonly gitDepth?: number;
  /** Replaces the generated steps entirely. */
  readonly steps?: readonly unknown[];
  /** Merged last into the payload, e.g. `{ artifacts: [...], image: {...} }`. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export type JobState = 'pending' | 'running' | 'success' | 'failed' | 'canceling' | 'canceled';

/** A variable as GitLab sends it: `file` and `raw` only when true (Collection::Item#to_runner_variable). */
export interface RunnerVariable {
  key: string;
  value: string;
  public: boolean;
  masked: boolean;
  file?: true;
  raw?: true;
}

export interface GitInfo {
  repo_url: string;
  ref: string;
  sha: string;
  before_sha: string;
  ref_type: 'branch';
  refspecs: string[];
  depth: number;
  repo_object_format: 'sha1';
  protected: boolean;
}

export interface JobPayload {
  id: number;
  token: string;
  allow_git_fetch: boolean;
  job_info: Record<string, unknown>;
  git_info: GitInfo;
  runner_info: { timeout: number; runner_session_url: string | null };
  variables: RunnerVariable[];
  steps: unknown[];
  features: Record<string, unknown>;
  [key: string]: unknown;
}

/** The `info` object a runner sends with POST /jobs/request. */
export interface RunnerInfo {
  name?: string;
  version?: string;
  revision?: string;
  platform?: string;
  architecture?: string;
  executor?: string;
  shell?: string;
  features?: Record<string, unknown>;
  [key: string]: unknown;
}

/** One PUT /jobs/:id as received, with the status it was answered. */
export interface JobUpdate {
  readonly body: Readonly<Record<string, unknown>>;
  readonly status: number;
  /** performance.now() when answered. */
  readonly at: number;
}

/** One PATCH /jobs/:id/trace as received, with the status it was answered. */
export interface TracePatch {
  readonly contentRange: string | undefined;
  readonly bytes: number;
  readonly status: number;
  readonly at: number;
}

/** A live view of a queued job: its properties change as the runner reports. */
export interface CoordinatorJob {
  readonly id: number;
  /** The job token (also in CI_JOB_TOKEN and in the repository URL). */
  readonly token: string;
  readonly pipelineId: number;
  readonly projectPath: string;
  /** git_info.repo_url: http(s)://gitlab-ci-token:<job token>@127.0.0.1:PORT/<projectPath>.git */
  readonly repoUrl: string;
  readonly state: JobState;
  /** Set by a `failed` update; unknown names become `unknown_failure`, as in GitLab. */
  readonly failureReason: string | undefined;
  readonly exitCode: number | undefined;
  /** Exactly the bytes accepted by trace patches, in order. */
  readonly trace: Buffer;
  readonly tracePatches: readonly TracePatch[];
  /** Every PUT /jobs/:id body received for this job, whatever it was answered. */
  readonly updates: readonly JobUpdate[];
  /** What the runner that took the job declared about itself. */
  readonly runnerInfo: RunnerInfo | undefined;
  /** The payload sent with the 201, once a runner took the job. */
  readonly payload: JobPayload | undefined;
  /** Whether the final update's `crc32:%08x` checksum matched the trace (undefined until one carried a checksum). */
  readonly finalChecksumOk: boolean | undefined;
  /** Whether the final update's output.bytesize matched the trace length (undefined until one carried it). */
  readonly finalBytesizeOk: boolean | undefined;
}

export type Endpoint = 'request_job' | 'update_job' | 'patch_trace' | 'verify' | 'git';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query string as received. */
  readonly path: string;
  readonly endpoint: Endpoint | 'other';
  readonly status: number;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Response headers as sent, lower-case names. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** performance.now() when the request arrived (monotonic milliseconds). */
  readonly at: number;
  readonly jobId?: number;
}

// ---------------------------------------------------------------------------
// Constants GitLab defines

/** The version this coordinator claims to be (CI_SERVER_VERSION). */
export const GITLAB_VERSION = '18.4.0';
const GITLAB_REVISION = 'coordinator';
/** Gitlab::Auth::CI_JOB_USER: the user name for job tokens in git and registry URLs. */
export const CI_JOB_USER = 'gitlab-ci-token';
/** Gitlab::Git::SHA1_BLANK_SHA: before_sha of a first push. */
const BLANK_SHA = '0'.repeat(40);
/** Enums::Ci::CommitStatus.failure_reasons (GitLab CE): what `features.failure_reasons` lists. */
export const FAILURE_REASONS: readonly string[] = [
  'unknown_failure', 'script_failure', 'api_failure', 'stuck_or_timeout_failure', 'runner_system_failure',
  'missing_dependency_failure', 'runner_unsupported', 'stale_schedule', 'job_execution_timeout', 'archived_failure',
  'unmet_prerequisites', 'scheduler_failure', 'data_integrity_failure', 'forward_deployment_failure', 'user_blocked',
  'project_deleted', 'ci_quota_exceeded', 'pipeline_loop_detected', 'no_matching_runner', 'trace_size_exceeded',
  'builds_disabled', 'insufficient_bridge_permissions', 'downstream_bridge_project_not_found', 'invalid_bridge_trigger',
  'bridge_pipeline_is_child_pipeline', 'downstream_pipeline_creation_failed', 'secrets_provider_not_found',
  'reached_max_descendant_pipelines_depth',
];
/** The runner feature that lets a running job go to `canceling` (Ci::RegisterJobService#persist_runtime_features). */
export const CANCEL_GRACEFULLY_FEATURE = 'cancel_gracefully';

const DEFAULT_TIMEOUT_SECONDS = 3600;
const DEFAULT_GIT_DEPTH = 20;

// ---------------------------------------------------------------------------
// Small helpers

/** Gitlab::Utils.slugify: lower case, runs of other characters become "-", at most 63 characters, no "-" at either end. */
function slugify(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
}

/** Ruby's String#to_i: the leading decimal digits, 0 when there are none. */
function rubyToI(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** GitLab Runner's checksum form for a trace. */
export function traceChecksum(data: Uint8Array): string {
  return `crc32:${crc32(data).toString(16).padStart(8, '0')}`;
}

/** Ci::BuildPendingState#crc32: the hex after "crc32:". */
function parseChecksum(checksum: string): number {
  const hex = checksum.split('crc32:').pop() ?? '';
  const match = /^[0-9a-f]+/i.exec(hex);
  return match ? Number.parseInt(match[0], 16) : 0;
}

/**
 * Gitlab::Ci::Runner::Backoff: 1 s for the first 4 s of a pending final state,
 * then doubling per power of two of the time elapsed, at most 64 s. GitLab's
 * formula gives 2**-1 (a Rational, sent as "1/2") between 1 s and 2 s, which
 * its own doc comment calls 1 second; this gives 1 there.
 */
function backoffSeconds(elapsedMs: number): number {
  const seconds = elapsedMs / 1000;
  if (seconds <= 1) return 1;
  const slot = Math.max(0, Math.floor(Math.log2(seconds)) - 1);
  return 2 ** Math.min(slot, 6);
}

function newToken(prefix: string): string {
  return prefix + randomBytes(15).toString('base64url');
}

function lowerCaseHeaders(headers: IncomingMessage['headers'] | OutgoingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolvePromise(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Grape merges query parameters and the (JSON or form) body; the body wins. */
function parseParams(body: Buffer, contentType: string | undefined, query: URLSearchParams): Record<string, unknown> | undefined {
  const params: Record<string, unknown> = Object.fromEntries(query);
  if (body.length === 0) return params;
  const text = body.toString('utf8');
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return { ...params, ...Object.fromEntries(new URLSearchParams(text)) };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? { ...params, ...parsed } : undefined;
  } catch {
    return undefined;
  }
}

/** The git directory of a working tree or bare repository. */
function gitDirOf(repositoryPath: string): string {
  const dotGit = join(repositoryPath, '.git');
  return existsSync(dotGit) && statSync(dotGit).isDirectory() ? resolve(dotGit) : resolve(repositoryPath);
}

// ---------------------------------------------------------------------------
// Jobs

interface Project {
  readonly id: number;
  readonly namespaceId: number;
  readonly fullPath: string;
  /** The latest repository given for the project (a later job may run a later commit). */
  repository: GitRepository | undefined;
}

class Job implements CoordinatorJob {
  state: JobState = 'pending';
  failureReason: string | undefined;
  exitCode: number | undefined;
  runnerInfo: RunnerInfo | undefined;
  runnerToken: string | undefined;
  payload: JobPayload | undefined;
  finalChecksumOk: boolean | undefined;
  finalBytesizeOk: boolean | undefined;
  readonly updates: JobUpdate[] = [];
  readonly tracePatches: TracePatch[] = [];
  readonly queuedAt = Date.now();
  startedAt: number | undefined;
  /** When the first final update was answered 202 (Ci::BuildPendingState#created_at). */
  pendingFinalSince: number | undefined;
  forceMismatch = false;
  private chunks: Buffer[] = [];
  private traceBytes = 0;

  constructor(
    readonly id: number,
    readonly token: string,
    readonly pipelineId: number,
    readonly project: Project,
    readonly repoUrl: string,
    readonly spec: JobSpec,
    /** The commit this job runs. */
    readonly repository: GitRepository | undefined,
  ) {}

  get projectPath(): string { return this.project.fullPath; }
  get trace(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }
  get traceLength(): number { return this.traceBytes; }

  appendTrace(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
    this.traceBytes += data.length;
  }

  /** `running` or `canceling`: the states in which the runner may still talk about the job (processing_on_runner?). */
  get processingOnRunner(): boolean { return this.state === 'running' || this.state === 'canceling'; }
  get cancelGracefully(): boolean { return this.runnerInfo?.features?.[CANCEL_GRACEFULLY_FEATURE] === true; }
}

// ---------------------------------------------------------------------------
// The coordinator

interface InjectedFailure {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  remaining: number;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply =>
  ({ status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) });
const text = (status: number, body: string, headers: Record<string, string> = {}): Reply =>
  ({ status, headers: { 'Content-Type': 'text/plain', ...headers }, body });
/** Grape's forbidden!: `{"message":"403 Forbidden"}`, with " - reason" when one is given. */
const forbidden = (reason?: string, headers: Record<string, string> = {}): Reply =>
  json(403, { message: reason ? `403 Forbidden - ${reason}` : '403 Forbidden' }, headers);
/** Grape's answer to a missing or malformed required parameter. */
const badParam = (message: string): Reply => json(400, { error: message });

export class TestCoordinator {
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Every POST /jobs/request body received (also the rejected ones). */
  readonly jobRequests: Record<string, unknown>[] = [];

  private readonly runnerTokens = new Map<string, number>();
  private readonly jobs = new Map<number, Job>();
  private readonly projects = new Map<string, Project>();
  private readonly failures = new Map<Endpoint, InjectedFailure[]>();
  private readonly sockets = new Set<Socket>();
  private readonly children = new Set<ChildProcess>();
  private readonly traceInterval: string;
  private server: Server | undefined;
  private port = 0;
  private nextJobId = 1;
  private nextProjectId = 1;
  /** The runner queue value (Ci::Runner#ensure_runner_queue_value): changes whenever a job is queued. */
  private queueValue = randomBytes(8).toString('hex');
  private finalAccepts = 0;

  private constructor(private readonly options: CoordinatorOptions) {
    this.traceInterval = String(options.traceUpdateIntervalSeconds ?? 3);
    for (const token of options.runnerTokens ?? []) this.addRunnerToken(token);
  }

  static async start(options: CoordinatorOptions = {}): Promise<TestCoordinator> {
    const coordinator = new TestCoordinator(options);
    await coordinator.listen(0);
    return coordinator;
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  addRunnerToken(token: string): void {
    if (!this.runnerTokens.has(token)) this.runnerTokens.set(token, this.runnerTokens.size + 1);
  }

  enqueueJob(spec: JobSpec): CoordinatorJob {
    const project = this.project(spec);
    const id = this.nextJobId++;
    const token = newToken('glcbt-');
    const withCredentials = `${this.options.tls ? 'https' : 'http'}://${CI_JOB_USER}:${token}@127.0.0.1:${this.port}`;
    const job = new Job(id, token, 100 + id, project, `${withCredentials}/${project.fullPath}.git`, spec, spec.repository);
    if (spec.repository) {
      // GitLab keeps a persistent ref per pipeline (Ci::PersistentRef) that
      // the first refspec fetches.
      execFileSync('git', ['-C', spec.repository.path, 'update-ref', `refs/pipelines/${job.pipelineId}`, spec.repository.sha], { stdio: 'ignore' });
    }
    this.jobs.set(id, job);
    this.queueValue = randomBytes(8).toString('hex');
    return job;
  }

  job(id: number): CoordinatorJob {
    return this.mustFind(id);
  }

  /**
   * GitLab's cancel (CommitStatus state machine): a running job whose runner
   * declared `features.cancel_gracefully` becomes `canceling` (its runner sees
   * `Job-Status: canceling`, runs after_script and sends its final update,
   * which makes it `canceled`); any other pending or running job becomes
   * `canceled`. Finished and canceling jobs stay as they are.
   */
  cancel(id: number): void {
    const job = this.mustFind(id);
    if (job.state === 'running' && job.cancelGracefully) job.state = 'canceling';
    else if (job.state === 'pending' || job.state === 'running') job.state = 'canceled';
  }

  /** Answers the next `count` requests to `endpoint` with `status` (and `headers`, e.g. Retry-After) before looking at them. */
  failNext(endpoint: Endpoint, status: number, count = 1, headers: Readonly<Record<string, string>> = {}): void {
    const queue = this.failures.get(endpoint) ?? [];
    queue.push({ status, headers, remaining: count });
    this.failures.set(endpoint, queue);
  }

  /**
   * Answers 202 Accepted to the next `count` final updates (state success or
   * failed) that carry a checksum, as GitLab does while the trace is still being
   * persisted; the job keeps its state until one is answered 200. GitLab only
   * accepts (202) an update that has a checksum: one without is applied at once.
   */
  acceptFinalUpdateAfter(count: number): void {
    this.finalAccepts = count;
  }

  /** The next trace PATCH of this job gets 416 with `Range: 0-<bytes held>` even when its offset is right. */
  forceTraceMismatch(jobId: number): void {
    this.mustFind(jobId).forceMismatch = true;
  }

  /** Polls `probe` until it gives a value (not undefined, null or false); rejects naming `what` after `timeoutMs`. */
  async waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== null && value !== false) return value;
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((done) => setTimeout(done, 10));
    }
  }

  /** Stops listening and drops every open connection, as a server that went down. */
  async goAway(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((done) => server.close(() => done()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const child of this.children) child.kill('SIGKILL');
    await closed;
  }

  /** Listens again on the same port. */
  async comeBack(): Promise<void> {
    if (this.server) return;
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.goAway();
  }

  // -------------------------------------------------------------------------

  private mustFind(id: number): Job {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id} in the coordinator`);
    return job;
  }

  private project(spec: JobSpec): Project {
    const directory = spec.repository ? slugify(basename(resolve(spec.repository.path)).replace(/\.git$/, '')) : '';
    const fullPath = spec.projectPath ?? `group/${directory || 'project'}`;
    if (!/^[\w.-]+(\/[\w.-]+)+$/.test(fullPath)) throw new Error(`project path ${JSON.stringify(fullPath)} is not group/project`);
    let project = this.projects.get(fullPath);
    if (!project) {
      const id = this.nextProjectId++;
      project = { id, namespaceId: 1000 + id, fullPath, repository: undefined };
      this.projects.set(fullPath, project);
    }
    if (spec.repository) {
      if (project.repository && resolve(project.repository.path) !== resolve(spec.repository.path)) {
        throw new Error(`project ${fullPath} is already served from ${project.repository.path}`);
      }
      project.repository = spec.repository;
    }
    return project;
  }

  private listen(port: number): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`coordinator error: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    };
    const server = this.options.tls
      ? createHttpsServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler)
      : createHttpServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return new Promise((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.port = (server.address() as AddressInfo).port;
        resolvePromise();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const path = req.url ?? '/';
    const url = new URL(path, 'http://coordinator');
    const method = req.method ?? 'GET';
    const record = (endpoint: RecordedRequest['endpoint'], status: number, jobId?: number): void => {
      this.requests.push({
        method, path, endpoint, status, at,
        headers: lowerCaseHeaders(req.headers),
        responseHeaders: lowerCaseHeaders(res.getHeaders()),
        ...(jobId === undefined ? {} : { jobId }),
      });
    };

    const git = /^\/(.+?\.git)(\/.*)$/.exec(url.pathname);
    if (git) {
      const injected = this.injectedFailure('git');
      if (injected) {
        req.resume();
        this.send(res, injected);
        record('git', injected.status);
        return;
      }
      const status = await this.serveGit(req, res, git[1]!.slice(0, -'.git'.length), git[2]!, url.search.slice(1));
      record('git', status);
      return;
    }

    const route = this.route(method, url.pathname);
    const body = await readBody(req);
    if (!route) {
      const reply = json(404, { error: '404 Not Found' });
      this.send(res, reply);
      record('other', reply.status);
      return;
    }
    const injected = this.injectedFailure(route.endpoint);
    const reply = injected ?? this.answer(route, req, body, url.searchParams);
    this.send(res, reply);
    record(route.endpoint, reply.status, route.jobId);
  }

  private route(method: string, pathname: string): { endpoint: Exclude<Endpoint, 'git'>; jobId?: number } | undefined {
    if (method === 'POST' && pathname === '/api/v4/jobs/request') return { endpoint: 'request_job' };
    if (method === 'POST' && pathname === '/api/v4/runners/verify') return { endpoint: 'verify' };
    const put = method === 'PUT' ? /^\/api\/v4\/jobs\/([^/]+)$/.exec(pathname) : null;
    if (put) return { endpoint: 'update_job', ...jobIdOf(put[1]!) };
    const patch = method === 'PATCH' ? /^\/api\/v4\/jobs\/([^/]+)\/trace$/.exec(pathname) : null;
    if (patch) return { endpoint: 'patch_trace', ...jobIdOf(patch[1]!) };
    return undefined;
  }

  private injectedFailure(endpoint: Endpoint): Reply | undefined {
    const queue = this.failures.get(endpoint);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    if (--next.remaining <= 0) queue.shift();
    return json(next.status, { message: `${next.status} ${STATUS_CODES[next.status] ?? 'Injected failure'}` }, { ...next.headers });
  }

  private send(res: ServerResponse, reply: Reply): void {
    // setHeader, not writeHead's argument: only those show in getHeaders() for the record.
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    res.writeHead(reply.status);
    res.end(reply.status === 204 ? undefined : reply.body);
  }

  private answer(route: { endpoint: Exclude<Endpoint, 'git'>; jobId?: number }, req: IncomingMessage, body: Buffer, query: URLSearchParams): Reply {
    if (route.endpoint === 'patch_trace') return this.patchTrace(route.jobId, req, body, query);
    const params = parseParams(body, req.headers['content-type'], query);
    if (!params) return json(400, { message: '400 Bad request - the body is not valid JSON' });
    switch (route.endpoint) {
      case 'request_job': return this.requestJob(params);
      case 'verify': return this.verify(params);
      case 'update_job': return this.updateJob(route.jobId, params);
    }
  }

  // POST /api/v4/runners/verify: 200 with the runner's id and token
  // (Entities::Ci::RunnerRegistrationDetails; older GitLab answered the text
  // "200", which GitLab Runner still accepts), 403 for an unknown token.
  private verify(params: Record<string, unknown>): Reply {
    if (typeof params['token'] !== 'string') return badParam('token is missing');
    const id = this.runnerTokens.get(params['token']);
    if (id === undefined) return forbidden();
    return json(200, { id, token: params['token'], token_expires_at: null });
  }

  // POST /api/v4/jobs/request (API::Ci::Helpers::JobRequest#acquire_ci_job!).
  private requestJob(params: Record<string, unknown>): Reply {
    this.jobRequests.push(params);
    const token = params['token'];
    if (typeof token !== 'string') return badParam('token is missing');
    if (!this.runnerTokens.has(token)) return forbidden();
    const lastUpdate = typeof params['last_update'] === 'string' ? params['last_update'] : undefined;
    // The runner already saw the queue as it is: no job, without looking.
    if (lastUpdate === this.queueValue) return { status: 204, headers: { 'X-GitLab-Last-Update': lastUpdate } };
    const queueValue = this.queueValue;
    const job = [...this.jobs.values()].find((candidate) => candidate.state === 'pending');
    if (!job) return { status: 204, headers: { 'X-GitLab-Last-Update': queueValue } };
    job.state = 'running';
    job.startedAt = Date.now();
    job.runnerToken = token;
    job.runnerInfo = isRecord(params['info']) ? { ...params['info'] } : {};
    job.payload = this.payload(job);
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
    const checksum = typeof output['checksum'] === 'string' ? output['checksum']
      : typeof params['checksum'] === 'string' ? params['checksum'] : undefined;
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
  private authenticateJob(job: Job | undefined, token: unknown): Reply | undefined {
    if (!job || typeof token !== 'string' || token !== job.token) return forbidden();
    if (!job.processingOnRunner) return forbidden('Job is not processing on runner', { 'Job-Status': job.state });
    return undefined;
  }

  // -------------------------------------------------------------------------
  // The job payload (API::Entities::Ci::JobRequest::Response)

  private payload(job: Job): JobPayload {
    const spec = job.spec;
    const project = job.project;
    const repository = job.repository;
    const name = spec.name ?? 'test';
    const stage = spec.stage ?? 'test';
    const timeout = spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const ref = repository?.ref ?? 'main';
    const sha = repository?.sha ?? BLANK_SHA;
    const depth = spec.gitDepth ?? DEFAULT_GIT_DEPTH;
    const projectName = project.fullPath.split('/').pop()!;
    const namespace = project.fullPath.split('/').slice(0, -1).join('/');
    const projectUrl = `${this.url}/${project.fullPath}`;

    const steps: unknown[] = spec.steps ? [...spec.steps] : [
      // Gitlab::Ci::Build::Step.from_commands / from_after_script
      { name: 'script', script: [...(spec.beforeScript ?? []), ...spec.script], timeout, when: 'on_success', allow_failure: false },
      ...(spec.afterScript ? [{ name: 'after_script', script: [...spec.afterScript], timeout, when: 'always', allow_failure: true }] : []),
    ];

    // Refspecs (Ci::BuildRunnerPresenter#refspecs): with a depth only the
    // pipeline's ref and the branch; a full clone takes all tags and branches.
    const refspecs = [`+refs/pipelines/${job.pipelineId}:refs/pipelines/${job.pipelineId}`,
      ...(depth > 0 ? [`+refs/heads/${ref}:refs/remotes/origin/${ref}`] : ['+refs/tags/*:refs/tags/*', '+refs/heads/*:refs/remotes/origin/*'])];

    const message = repository?.message ?? '';
    const [title = '', ...rest] = message.split('\n');
    const author = repository?.authorName ? `${repository.authorName} <${repository.authorEmail ?? ''}>` : '';
    const v = (key: string, value: string, extra: Partial<RunnerVariable> = {}): RunnerVariable => ({ key, value, public: true, masked: false, ...extra });
    const secret = { public: false, masked: true } as const;
    const variables: RunnerVariable[] = [
      // Ci::Build#persisted_variables (with the pipeline's)
      v('CI_PIPELINE_ID', String(job.pipelineId)),
      v('CI_PIPELINE_URL', `${projectUrl}/-/pipelines/${job.pipelineId}`),
      v('CI_JOB_ID', String(job.id)),
      v('CI_JOB_URL', `${projectUrl}/-/jobs/${job.id}`),
      v('CI_JOB_TOKEN', job.token, secret),
      v('CI_JOB_STARTED_AT', new Date(job.startedAt ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z')),
      v('CI_REGISTRY_USER', CI_JOB_USER),
      v('CI_REGISTRY_PASSWORD', job.token, secret),
      v('CI_REPOSITORY_URL', job.repoUrl, { public: false }),
      // Gitlab::Ci::Variables::Builder#predefined_variables
      v('CI_JOB_NAME', name),
      v('CI_JOB_NAME_SLUG', slugify(name)),
      v('CI_JOB_STAGE', stage),
      v('CI_NODE_TOTAL', '1'),
      // Project#predefined_ci_server_variables
      v('CI', 'true'),
      v('GITLAB_CI', 'true'),
      v('CI_SERVER_FQDN', `127.0.0.1:${this.port}`),
      v('CI_SERVER_URL', this.url),
      v('CI_SERVER_HOST', '127.0.0.1'),
      v('CI_SERVER_PORT', String(this.port)),
      v('CI_SERVER_PROTOCOL', this.options.tls ? 'https' : 'http'),
      v('CI_SERVER_NAME', 'GitLab'),
      v('CI_SERVER_VERSION', GITLAB_VERSION),
      ...['MAJOR', 'MINOR', 'PATCH'].map((part, i) => v(`CI_SERVER_VERSION_${part}`, GITLAB_VERSION.split('.')[i]!)),
      v('CI_SERVER_REVISION', GITLAB_REVISION),
      v('GITLAB_FEATURES', ''),
      // Project#predefined_project_variables
      v('CI_PROJECT_ID', String(project.id)),
      v('CI_PROJECT_NAME', projectName),
      v('CI_PROJECT_TITLE', projectName),
      v('CI_PROJECT_PATH', project.fullPath),
      v('CI_PROJECT_PATH_SLUG', slugify(project.fullPath)),
      v('CI_PROJECT_NAMESPACE', namespace),
      v('CI_PROJECT_NAMESPACE_ID', String(project.namespaceId)),
      v('CI_PROJECT_ROOT_NAMESPACE', namespace.split('/')[0]!),
      v('CI_PROJECT_URL', projectUrl),
      v('CI_PROJECT_VISIBILITY', 'private'),
      v('CI_DEFAULT_BRANCH', ref),
      v('CI_CONFIG_PATH', '.gitlab-ci.yml'),
      v('CI_API_V4_URL', `${this.url}/api/v4`),
      v('CI_API_GRAPHQL_URL', `${this.url}/api/graphql`),
      // Gitlab::Ci::Variables::Builder::Pipeline
      v('CI_PIPELINE_IID', String(job.pipelineId)),
      v('CI_PIPELINE_SOURCE', 'push'),
      v('CI_PIPELINE_CREATED_AT', new Date(job.queuedAt).toISOString().replace(/\.\d{3}Z$/, 'Z')),
      v('CI_COMMIT_SHA', sha),
      v('CI_COMMIT_SHORT_SHA', sha.slice(0, 8)),
      v('CI_COMMIT_BEFORE_SHA', BLANK_SHA),
      v('CI_COMMIT_REF_NAME', ref),
      v('CI_COMMIT_REF_SLUG', slugify(ref)),
      v('CI_COMMIT_BRANCH', ref),
      v('CI_COMMIT_MESSAGE', message),
      v('CI_COMMIT_TITLE', title),
      v('CI_COMMIT_DESCRIPTION', rest.join('\n').replace(/^\n+/, '')),
      v('CI_COMMIT_REF_PROTECTED', 'false'),
      v('CI_COMMIT_TIMESTAMP', repository?.timestamp ?? ''),
      v('CI_COMMIT_AUTHOR', author),
      // Builder#user_variables
      v('GITLAB_USER_ID', '1'),
      v('GITLAB_USER_EMAIL', 'test@example.com'),
      v('GITLAB_USER_LOGIN', 'test'),
      v('GITLAB_USER_NAME', 'Test User'),
      // The job's own variables (.gitlab-ci.yml and CI/CD settings) come after
      // the predefined ones.
      ...(spec.variables ?? []).map((variable) => v(variable.key, variable.value, {
        public: variable.public ?? !variable.masked,
        masked: variable.masked ?? false,
        ...(variable.file ? { file: true } : {}),
        ...(variable.raw ? { raw: true } : {}),
      })),
    ];

    return {
      id: job.id,
      token: job.token,
      allow_git_fetch: true,
      job_info: {
        id: job.id, name, stage, pipeline_id: job.pipelineId,
        project_id: project.id, project_name: projectName, project_full_path: project.fullPath,
        namespace_id: project.namespaceId, root_namespace_id: project.namespaceId,
        user_id: 1, time_in_queue_seconds: Math.floor(((job.startedAt ?? Date.now()) - job.queuedAt) / 1000),
      },
      git_info: {
        repo_url: job.repoUrl, ref, sha, before_sha: BLANK_SHA, ref_type: 'branch', refspecs, depth,
        repo_object_format: 'sha1', protected: false,
      },
      runner_info: { timeout, runner_session_url: null },
      variables,
      steps,
      hooks: [],
      image: null,
      services: [],
      artifacts: [],
      cache: [],
      credentials: [],
      dependencies: [],
      // FACTS.md lists `features` as something a shell executor ignores; GitLab
      // fills it (Ci::Build#features), it is never empty.
      features: { trace_sections: true, failure_reasons: [...FAILURE_REASONS] },
      ...spec.extra,
    };
  }

  // -------------------------------------------------------------------------
  // Git over smart HTTP, served by `git http-backend` as a CGI program

  private async serveGit(req: IncomingMessage, res: ServerResponse, projectPath: string, rest: string, queryString: string): Promise<number> {
    const reply = (r: Reply): number => { this.send(res, r); return r.status; };
    // Workhorse/GitLab: a Basic challenge for missing or wrong credentials.
    const unauthorized = (): number => reply(text(401, 'HTTP Basic: Access denied\n', { 'WWW-Authenticate': 'Basic realm="GitLab"' }));
    const credentials = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [user = '', password = ''] = credentials ? Buffer.from(credentials, 'base64').toString('utf8').split(/:(.*)/s) : [];
    // Ci::AuthJobFinder: the token of a job the runner is processing.
    const job = user === CI_JOB_USER ? [...this.jobs.values()].find((candidate) => candidate.token === password && candidate.processingOnRunner) : undefined;
    if (!job) {
      req.resume();
      return unauthorized();
    }
    const project = this.projects.get(projectPath);
    if (!project?.repository || project.fullPath !== job.project.fullPath) {
      req.resume();
      return reply(text(404, 'The project you were looking for could not be found or you don\'t have permission to view it.\n'));
    }
    if (rest.endsWith('/git-receive-pack') || queryString.includes('service=git-receive-pack')) {
      req.resume();
      return reply(text(403, 'You are not allowed to upload code.\n'));
    }

    const gitDir = gitDirOf(project.repository.path);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      GIT_PROJECT_ROOT: dirname(gitDir),
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${basename(gitDir)}${rest}`,
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: queryString,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: CI_JOB_USER,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      // Shallow fetches of a commit (`git fetch --depth 1 origin <sha>`) need
      // upload-pack to serve wants that are not ref tips.
      GIT_CONFIG_COUNT: '3',
      GIT_CONFIG_KEY_0: 'uploadpack.allowReachableSHA1InWant',
      GIT_CONFIG_VALUE_0: 'true',
      GIT_CONFIG_KEY_1: 'uploadpack.allowAnySHA1InWant',
      GIT_CONFIG_VALUE_1: 'true',
      GIT_CONFIG_KEY_2: 'http.receivepack',
      GIT_CONFIG_VALUE_2: 'false',
    };
    if (req.headers['content-length'] !== undefined) env['CONTENT_LENGTH'] = req.headers['content-length'];
    if (req.headers['content-encoding'] !== undefined) env['HTTP_CONTENT_ENCODING'] = req.headers['content-encoding'];
    if (typeof req.headers['git-protocol'] === 'string') env['GIT_PROTOCOL'] = req.headers['git-protocol'];

    const child = spawn(gitHttpBackend(), [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    res.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
    req.pipe(child.stdin!);
    child.stdin!.on('error', () => undefined);

    return new Promise((resolvePromise) => {
      let head = Buffer.alloc(0);
      let status = 200;
      let headersDone = false;
      child.stdout!.on('data', (chunk: Buffer) => {
        if (headersDone) { res.write(chunk); return; }
        head = Buffer.concat([head, chunk]);
        const crlf = head.indexOf('\r\n\r\n');
        const end = crlf >= 0 ? crlf : head.indexOf('\n\n');
        if (end < 0) return;
        const separator = crlf >= 0 ? 4 : 2;
        const headers: Record<string, string> = {};
        for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
          const colon = line.indexOf(':');
          if (colon < 0) continue;
          const name = line.slice(0, colon).trim();
          const value = line.slice(colon + 1).trim();
          if (name.toLowerCase() === 'status') status = rubyToI(value) || 200;
          else headers[name] = value;
        }
        headersDone = true;
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        res.writeHead(status);
        res.write(head.subarray(end + separator));
      });
      child.on('close', (code) => {
        if (!headersDone) {
          status = 500;
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`git http-backend exited with ${code}\n`);
        } else {
          res.end();
        }
        resolvePromise(status);
      });
    });
  }
}

let httpBackendPath: string | undefined;
/** $(git --exec-path)/git-http-backend */
function gitHttpBackend(): string {
  httpBackendPath ??= join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');
  return httpBackendPath;
}

function jobIdOf(raw: string): { jobId?: number } {
  return /^\d+$/.test(raw) ? { jobId: Number(raw) } : {};
}

// ---------------------------------------------------------------------------
// Repositories for the tests

const GIT_IDENTITY = ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false'];

/**
 * A real git repository in `dir` (created if missing) with one commit holding
 * `files` (relative paths, parent directories made as needed) on `branch`
 * (default main). Needs git on PATH.
 */
export function createGitRepository(dir: string, files: Readonly<Record<string, string>>, options: { branch?: string; message?: string } = {}): GitRepository {
  const branch = options.branch ?? 'main';
  const message = options.message ?? 'Initial commit';
  const git = (...args: string[]): string => execFileSync('git', ['-C', dir, ...GIT_IDENTITY, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
  }).trim();
  mkdirSync(dir, { recursive: true });
  git('init', '--quiet', `--initial-branch=${branch}`);
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  git('add', '--all');
  git('commit', '--quiet', '--allow-empty', '-m', message);
  const [sha = '', authorName = '', authorEmail = '', timestamp = ''] = git('log', '-1', '--format=%H%n%an%n%ae%n%cI').split('\n');
  return { path: resolve(dir), sha, ref: branch, message, authorName, authorEmail, timestamp };
}
