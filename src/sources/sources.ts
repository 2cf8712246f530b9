// Chooses each runner's job source: a coordinator when it has a url, else
// its local queue directory.
import { resolve } from 'node:path';
import { type CoordinatorObserver, type JobSource, SourceError, type SourceFactory } from '../job/source.ts';
import type { Logger } from '../log/logger.ts';
import { GitLabSource } from './gitlab/gitlab-source.ts';
import { LocalQueueSource } from './local/local-source.ts';

/** A source that could not be made: its first request says why, and its runner stops asking. */
function brokenSource(reason: string): JobSource {
  return {
    request: () => Promise.reject(new SourceError(reason, true)),
    close: () => Promise.resolve(),
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
        try {
          return new GitLabSource({ ...runner, url, token }, executor, systemId, logger, apiObserver(runner.name));
        } catch (error) {
          // A tls-ca-file that cannot be read: this runner cannot work, the others can.
          return brokenSource(error instanceof Error ? error.message : String(error));
        }
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
