// Makes each runner's executor from its configuration (`executor = "shell"`).
import { resolve } from 'node:path';
import type { ExecutorFactory } from '../job/executor.ts';
import { ShellExecutor } from './shell/shell-executor.ts';

/** Executors whose build directories (relative paths) are under `workingDirectory`. */
export function executorFactory(workingDirectory: string): ExecutorFactory {
  return {
    create: (runner) => {
      switch (runner.executor) {
        case 'shell':
          return new ShellExecutor({
            buildsDir: resolve(workingDirectory, runner.buildsDir),
            workingDirectory,
            keepBuildDir: runner.keepBuildsDir,
            shell: runner.shell,
          });
        default:
          // The validator accepts only the executors above; a new one must be added here too.
          throw new Error(`no executor named ${JSON.stringify(runner.executor satisfies never)}`);
      }
    },
  };
}
