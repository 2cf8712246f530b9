// A coordinator speaking GitLab's Runner API v4 as a job source: asks for
// jobs with the runner's token and what it supports, and turns each job into
// a GitLabJob that reports back.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunnerConfig } from '../../config/types.ts';
import type { ExecutorInfo } from '../../job/executor.ts';
import { type JobSource, SourceError, type SourceJob } from '../../job/source.ts';
import type { Logger } from '../../log/logger.ts';
import { architecture, goArch, operatingSystem } from '../../runtime/runtime.ts';
import { trackPath } from '../../system/process-record.ts';
import { versionInfo } from '../../version.ts';
import { type ApiObserver, bodyExcerpt, GitLabApi, retryAfterMs } from './api.ts';
import { GitLabJob, type GitLabJobOptions } from './gitlab-job.ts';
import { type CoordinatorJob, features, parseJobPayload, PayloadError } from './payload.ts';

/** What the runner tells the coordinator about itself with each request. */
export function runnerInfo(executor: ExecutorInfo): Record<string, unknown> {
  return {
    name: versionInfo.name,
    version: versionInfo.version,
    revision: versionInfo.revision,
    platform: operatingSystem,
    architecture: goArch(architecture),
    executor: executor.name,
    shell: executor.shell,
    features: features(executor),
    // GitLab Runner's shell executor sends no GPUs.
    config: { gpus: '' },
  };
}

export class GitLabSource implements JobSource {
  private lastUpdate = '';
  private readonly traceDir: string;
  private readonly untrackTraceDir: () => void;
  private readonly caPem: string | undefined;
  readonly api: GitLabApi;

  constructor(
    private readonly runner: RunnerConfig & { url: string; token: string },
    private readonly executor: ExecutorInfo,
    /** GitLab's system_id of this runner process. */
    private readonly systemId: string,
    private readonly logger: Logger,
    observe: ApiObserver,
    private readonly jobOptions: GitLabJobOptions = {},
  ) {
    this.api = new GitLabApi(runner.url, runner.tlsCaFile, observe);
    // Read by GitLabApi just before: a bad path has failed already.
    this.caPem = runner.tlsCaFile === undefined ? undefined : readFileSync(runner.tlsCaFile, 'utf8');
    // 0700: the logs of running jobs wait here until the coordinator has them.
    this.traceDir = mkdtempSync(join(tmpdir(), 'runner-trace-'));
    // Left by a runner that was killed, the next start removes it (system/process-record.ts).
    this.untrackTraceDir = trackPath(this.traceDir);
  }

  async request(): Promise<SourceJob | undefined> {
    let response;
    try {
      response = await this.api.requestJob({
        info: runnerInfo(this.executor),
        token: this.runner.token,
        system_id: this.systemId,
        ...(this.lastUpdate === '' ? {} : { last_update: this.lastUpdate }),
      });
    } catch (error) {
      throw new SourceError(`cannot reach ${this.runner.url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const lastUpdate = response.headers['x-gitlab-last-update'];
    if (lastUpdate !== undefined) this.lastUpdate = lastUpdate;
    switch (response.status) {
      case 201:
        return this.accept(response.body.toString('utf8'), response.requestId, response.certificateChain);
      case 204:
      // 409: another request of this runner is being served (GitLab Runner asks again as usual).
      case 409:
        return undefined;
      case 401:
      case 403:
        throw new SourceError(
          `${this.runner.url} rejected the runner's token (${response.status}): check token in config.toml, or register the runner again`,
          true,
        );
      default:
        throw new SourceError(`${this.runner.url} answered ${response.status} to a job request${bodyExcerpt(response.body)}`, false, retryAfterMs(response));
    }
  }

  private accept(body: string, requestId: string, chain: string | undefined): GitLabJob {
    try {
      const parsed = parseJobPayload(body);
      const job = this.withCa({ ...parsed, job: { ...parsed.job, requestId } }, chain);
      return new GitLabJob(this.api, job, this.traceDir, this.runner.name, this.logger, runnerInfo(this.executor), this.jobOptions);
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      // The job is ours now but cannot be run: fail it at the coordinator rather than leave it running there.
      void this.failUnreadable(body, error.message);
      throw new SourceError(`${this.runner.url} sent a job this runner cannot read: ${error.message}`);
    }
  }

  /**
   * As GitLab Runner: the runner's tls-ca-file, or else the chain the
   * coordinator showed over https, reaches the job as the file variable
   * CI_SERVER_TLS_CA_FILE (git trusts it), before the job's own variables.
   */
  private withCa(coordinatorJob: CoordinatorJob, chain: string | undefined): CoordinatorJob {
    const pem = this.caPem ?? chain;
    if (pem === undefined) return coordinatorJob;
    const { job } = coordinatorJob;
    return {
      ...coordinatorJob,
      job: { ...job, variables: [{ key: 'CI_SERVER_TLS_CA_FILE', value: pem, masked: false, file: true }, ...job.variables] },
    };
  }

  private async failUnreadable(body: string, reason: string): Promise<void> {
    let id: unknown;
    let token: unknown;
    try {
      ({ id, token } = JSON.parse(body) as { id?: unknown; token?: unknown });
    } catch {
      return;
    }
    if (typeof id !== 'number' || typeof token !== 'string') return;
    this.logger.error('Job payload cannot be read: failing the job', { runner: this.runner.name, job: id, error: reason });
    await this.api.updateJob(id, { info: runnerInfo(this.executor), token, state: 'failed', failure_reason: 'runner_system_failure' }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.api.close();
    rmSync(this.traceDir, { recursive: true, force: true });
    this.untrackTraceDir();
  }
}
