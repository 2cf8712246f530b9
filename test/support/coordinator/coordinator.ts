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
// says so. Git and Git LFS over HTTP: git-http.ts and lfs.ts.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ArtifactStore } from './artifacts.ts';
import { type GitRepositories, serveGit } from './git-http.ts';
import { CI_JOB_USER, newToken } from './gitlab-rules.ts';
import { json, lowerCaseHeaders, readBody, type Reply, send } from './http.ts';
import { isLfsPath, serveLfs } from './lfs.ts';
import { jobPayload } from './payload.ts';
import { Projects } from './projects.ts';
import { QueuedJob } from './queued-job.ts';
import { apiRoute, RunnerApi } from './runner-api.ts';
import type {
  ArtifactUpload,
  CoordinatorJob,
  CoordinatorOptions,
  CoordinatorProject,
  Endpoint,
  GitRepository,
  JobPayload,
  JobSpec,
  RecordedRequest,
  RunnerSpec,
} from './types.ts';

export type * from './types.ts';
export { CANCEL_GRACEFULLY_FEATURE, CI_JOB_USER, FAILURE_REASONS, GITLAB_VERSION, traceChecksum } from './gitlab-rules.ts';
export { addSubmodule, createGitRepository, type GitRepositoryOptions, type SubmoduleSpec } from './repository.ts';

interface InjectedFailure {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  remaining: number;
}

export class TestCoordinator {
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  private readonly api: RunnerApi;
  private readonly artifacts = new ArtifactStore();
  private readonly projects = new Projects();
  private readonly failures = new Map<Endpoint, InjectedFailure[]>();
  /** Endpoints whose next request is served but never answered (the connection drops). */
  private readonly lostAnswers = new Set<Endpoint>();
  private readonly sockets = new Set<Socket>();
  private readonly children = new Set<ChildProcess>();
  private server: Server | undefined;
  private port = 0;
  private nextJobId = 1;

  private constructor(private readonly options: CoordinatorOptions) {
    this.api = new RunnerApi(
      String(options.traceUpdateIntervalSeconds ?? 3),
      (job, runner) =>
        this.withArtifacts(job, jobPayload(job, { url: this.url, port: this.port, tls: !!options.tls, containerRegistry: options.containerRegistry, runner })),
    );
    this.artifacts.config.maxBytes = options.maxArtifactBytes;
    this.api.queueValue = randomBytes(8).toString('hex');
    for (const token of options.runnerTokens ?? []) this.addRunnerToken(token);
  }

  static async start(options: CoordinatorOptions = {}): Promise<TestCoordinator> {
    const coordinator = new TestCoordinator(options);
    await coordinator.listen(0);
    return coordinator;
  }

  /** Every POST /jobs/request body received (also the rejected ones). */
  get jobRequests(): readonly Record<string, unknown>[] {
    return this.api.jobRequests;
  }

  /** The bodies of POST /runners/verify, in order. */
  get verifyRequests(): readonly Record<string, unknown>[] {
    return this.api.verifyRequests;
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** A runner token that is valid from now on, for a runner with this description and these tags (default none). */
  addRunnerToken(token: string, runner: RunnerSpec = {}): void {
    const runners = this.api.runners;
    if (!runners.has(token)) runners.set(token, { id: runners.size + 1, description: runner.description ?? null, tags: [...(runner.tags ?? [])] });
  }

  /**
   * Serves `repository` as the project at `fullPath` (/<fullPath>.git, with
   * Git LFS objects if it has any), e.g. a submodule's. Any running job's
   * token can read it, as GitLab lets a job token read the projects its
   * token scope allows. A project that already exists keeps its id.
   */
  addProject(fullPath: string, repository: GitRepository): CoordinatorProject {
    const project = this.projects.ensure(fullPath, repository);
    return { id: project.id, fullPath, httpUrl: `${this.url}/${fullPath}.git` };
  }

  enqueueJob(spec: JobSpec): CoordinatorJob {
    const project = this.projects.forJob(spec);
    const id = this.nextJobId++;
    const token = newToken('glcbt-');
    const withCredentials = `${this.options.tls ? 'https' : 'http'}://${CI_JOB_USER}:${token}@127.0.0.1:${this.port}`;
    const job = new QueuedJob(id, token, 100 + id, project, `${withCredentials}/${project.fullPath}.git`, spec, spec.repository);
    if (spec.repository) {
      // GitLab keeps a persistent ref per pipeline (Ci::PersistentRef) that
      // the first refspec fetches.
      execFileSync('git', ['-C', spec.repository.path, 'update-ref', `refs/pipelines/${job.pipelineId}`, spec.repository.sha], { stdio: 'ignore' });
    }
    this.api.jobs.set(id, job);
    this.api.queueValue = randomBytes(8).toString('hex');
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

  /**
   * GitLab's force cancel of a job stuck in `canceling` (or any running job):
   * `canceled` at once, so the runner's next update or patch gets 403.
   */
  forceCancel(id: number): void {
    const job = this.mustFind(id);
    if (job.state === 'pending' || job.processingOnRunner) job.state = 'canceled';
  }

  /**
   * Serves the next request to `endpoint` as usual (a trace patch is stored)
   * but drops the connection instead of answering, as when a response is
   * lost on the way: the runner cannot tell it was taken.
   */
  loseNextAnswer(endpoint: Exclude<Endpoint, 'git' | 'lfs' | 'upload_artifacts' | 'download_artifacts'>): void {
    this.lostAnswers.add(endpoint);
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
    this.api.finalAccepts = count;
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
    await this.artifacts.close();
  }

  /** Every artifact upload accepted (201), in order; each keeps its stored file until close(). */
  get artifactUploads(): readonly ArtifactUpload[] {
    return this.artifacts.uploads;
  }

  /** The requests the object storage server received, with their headers (lower-case names). */
  get objectStorageRequests(): readonly { path: string; headers: Readonly<Record<string, string>>; status: number }[] {
    return this.artifacts.storageRequests;
  }

  /** Workhorse's artifact size limit from now on (undefined: none). */
  setMaxArtifactBytes(bytes: number | undefined): void {
    this.artifacts.config.maxBytes = bytes;
  }

  /** The next artifact upload's connection is dropped once `afterBytes` of its body have arrived (nothing is stored). */
  dropNextUpload(afterBytes: number): void {
    this.artifacts.dropUploadAfter = afterBytes;
  }

  /**
   * Starts a second HTTP server acting as object storage: from now on
   * GET /jobs/:id/artifacts?direct_download=true answers 302 to a presigned
   * URL on it, as GitLab does for artifacts in object storage. Resolves to its URL.
   */
  enableObjectStorage(): Promise<string> {
    return this.artifacts.enableObjectStorage();
  }

  // -------------------------------------------------------------------------

  private mustFind(id: number): QueuedJob {
    const job = this.api.jobs.get(id);
    if (!job) throw new Error(`no job ${id} in the coordinator`);
    return job;
  }

  private listen(port: number): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`coordinator error: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    };
    const server = this.options.tls ? createHttpsServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler) : createHttpServer(handler);
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
        method,
        path,
        endpoint,
        status,
        at,
        headers: lowerCaseHeaders(req.headers),
        responseHeaders: lowerCaseHeaders(res.getHeaders()),
        ...(jobId === undefined ? {} : { jobId }),
      });
    };

    const git = /^\/(.+?)\.git(\/.*)$/.exec(url.pathname);
    if (git) {
      const projectPath = git[1]!;
      const rest = git[2]!;
      const endpoint = isLfsPath(rest) ? 'lfs' : 'git';
      const injected = this.injectedFailure(endpoint);
      if (injected) {
        req.resume();
        send(res, injected);
        record(endpoint, injected.status);
        return;
      }
      const repositories: GitRepositories = {
        url: this.url,
        jobs: () => this.api.jobs.values(),
        project: (path) => this.projects.get(path),
        children: this.children,
      };
      const status = endpoint === 'lfs'
        ? await serveLfs(req, res, repositories, projectPath, rest)
        : await serveGit(req, res, repositories, projectPath, rest, url.search.slice(1));
      record(endpoint, status);
      return;
    }

    const artifacts = /^\/api\/v4\/jobs\/(\d+)\/artifacts$/.exec(url.pathname);
    if (artifacts && (method === 'POST' || method === 'GET')) {
      const endpoint = method === 'POST' ? 'upload_artifacts' : 'download_artifacts';
      const jobId = Number(artifacts[1]);
      const injected = this.injectedFailure(endpoint);
      if (injected) {
        for await (const _ of req) { /* the body is not looked at */ }
        send(res, injected);
        record(endpoint, injected.status, jobId);
        return;
      }
      const job = this.api.jobs.get(jobId);
      const status = method === 'POST'
        ? await this.artifacts.upload(req, res, job, url.searchParams)
        : await this.artifacts.download(req, res, job, url.searchParams, this.api.jobs.values());
      record(endpoint, status, jobId);
      return;
    }

    const route = apiRoute(method, url.pathname);
    const body = await readBody(req);
    if (!route) {
      const reply = json(404, { error: '404 Not Found' });
      send(res, reply);
      record('other', reply.status);
      return;
    }
    const injected = this.injectedFailure(route.endpoint);
    const reply = injected ?? this.api.answer(route, req, body, url.searchParams);
    if (this.lostAnswers.delete(route.endpoint)) {
      req.socket.destroy();
      record(route.endpoint, 0, route.jobId);
      return;
    }
    send(res, reply);
    record(route.endpoint, reply.status, route.jobId);
  }

  /** The payload's artifacts and dependencies, when the job's spec has them (`extra` still wins). */
  private withArtifacts(job: QueuedJob, payload: JobPayload): JobPayload {
    const { spec } = job;
    if (spec.artifacts && spec.extra?.['artifacts'] === undefined) payload.artifacts = spec.artifacts.map((entry) => ({ ...entry }));
    if (spec.dependencies && spec.extra?.['dependencies'] === undefined) {
      payload.dependencies = spec.dependencies.map((id) => {
        const dependency = this.mustFind(id);
        const archive = this.artifacts.archiveOf(id);
        // Entities::Ci::JobRequest::Dependency; artifacts_file only `if: available_artifacts?`.
        return {
          id,
          name: dependency.spec.name ?? 'test',
          token: dependency.token,
          ...(archive ? { artifacts_file: { filename: archive.filename, size: archive.size } } : {}),
        };
      });
    }
    return payload;
  }

  private injectedFailure(endpoint: Endpoint): Reply | undefined {
    const queue = this.failures.get(endpoint);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    if (--next.remaining <= 0) queue.shift();
    return json(next.status, { message: `${next.status} ${STATUS_CODES[next.status] ?? 'Injected failure'}` }, { ...next.headers });
  }
}
