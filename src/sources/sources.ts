// Chooses each runner's job source: a coordinator when it has a url, else
// its local queue directory.
import { resolve } from 'node:path';
import type { RunnerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { LocalQueueSource } from './local/local-source.ts';
import type { JobSource } from './source.ts';

export function sourceFactory(workingDirectory: string, logger: Logger): { key(runner: RunnerConfig): string; create(runner: RunnerConfig): JobSource } {
  return {
    key: (runner) => JSON.stringify(runner.url === undefined
      ? ['local', resolve(workingDirectory, runner.queueDir)]
      : ['coordinator', runner.url, runner.token, runner.tlsCaFile]),
    create: (runner) => new LocalQueueSource(resolve(workingDirectory, runner.queueDir), (job) => {
      logger.warn('Job of a runner that died finished as failed', { job: job.id, name: job.name, owner: job.owner, failure_reason: 'runner_system_failure', runner: runner.name });
    }),
  };
}
