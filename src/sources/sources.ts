// Chooses each runner's job source: a coordinator when it has a url, else
// its local queue directory. The GitLab client (its HTTP stack and proxy
// agents) is loaded when a runner with a url first asks for a job, so a
// runner of local queues alone never loads it.
import { resolve } from 'node:path';
import { type CoordinatorObserver, type JobSource, SourceError, type SourceFactory } from '../job/source.ts';
import type { Logger } from '../log/logger.ts';
import { LocalQueueSource } from './local/local-source.ts';

/** A source that could not be made: its first request says why, and its runner stops asking. */
function brokenSource(reason: string): JobSource {
  return {
    request: () => Promise.reject(new SourceError(reason, true)),
    close: () => Promise.resolve(),
  };
}

/** A source made when first asked for a job; one that cannot be made becomes a broken source. */
function sourceOnFirstRequest(make: () => Promise<JobSource>): JobSource {
  let made: Promise<JobSource> | undefined;
  const source = (): Promise<JobSource> =>
    made ??= make().catch((error: unknown) =>
      // A tls-ca-file that cannot be read: this runner cannot work, the others can.
      brokenSource(error instanceof Error ? error.message : String(error))
    );
  return {
    request: async () => (await source()).request(),
    close: async () => {
      if (made !== undefined) await (await made).close();
    },
  };
}

export function sourceFactory(
  workingDirectory: string,
  logger: Logger,
  systemId: string,
  apiObserver: (runner: string) => CoordinatorObserver = () => () => undefined,
): SourceFactory {
  return {
    key: (runner) =>
      JSON.stringify(
        runner.url === undefined ? ['local', resolve(workingDirectory, runner.queueDir)] : ['coordinator', runner.url, runner.token, runner.tlsCaFile],
      ),
    create: (runner, executor) => {
      const { url, token } = runner;
      if (url !== undefined && token !== undefined) {
        return sourceOnFirstRequest(async () => {
          const { GitLabSource } = await import('./gitlab/gitlab-source.ts');
          return new GitLabSource({ ...runner, url, token }, executor, systemId, logger, apiObserver(runner.name));
        });
      }
      return new LocalQueueSource(resolve(workingDirectory, runner.queueDir), {
        recovered: (job) =>
          logger.warn('Job of a runner that died finished as failed', {
            job: job.id,
            name: job.name,
            owner: job.owner,
            failure_reason: 'runner_system_failure',
            runner: runner.name,
          }),
        resultNotWritten: (job, error, retryInMs) =>
          logger.error('Cannot write the result of a job; it stays claimed and is tried again', {
            job,
            runner: runner.name,
            error: error.message,
            retry_in_seconds: retryInMs / 1000,
          }),
      });
    },
  };
}
