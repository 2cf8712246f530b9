// `runner verify`: asks each coordinator whether its runner's token is valid
// (POST /api/v4/runners/verify) and says so, one line per runner.
import { loadConfig } from '../config/load.ts';
import { loadSystemId } from '../config/system-id.ts';
import { executorFactory } from '../executors/executors.ts';
import { GitLabApi } from '../sources/gitlab/api.ts';
import { runnerInfo } from '../sources/gitlab/gitlab-source.ts';

export interface VerifyOptions {
  readonly configPath: string | undefined;
}

/** 0: every coordinator runner is valid; 1: one is not or could not be asked; 2 (thrown ConfigError): bad config. */
export async function verifyCommand(options: VerifyOptions, out: (line: string) => void = (line) => process.stdout.write(line + '\n')): Promise<number> {
  const loaded = loadConfig(options.configPath, process.cwd());
  const { config } = loaded;
  const runners = config.runners.filter((runner) => runner.url !== undefined);
  if (runners.length === 0) {
    out('No runner with a url in the configuration: nothing to verify (local queues need no token).');
    return 0;
  }
  // As GitLab Runner's verify: the system ID kept beside the configuration goes with it (made on first use).
  let kept: string | undefined;
  const systemId = (): string => (kept ??= loadSystemId(loaded.path ?? options.configPath, process.cwd()).id);
  let failed = 0;
  for (const runner of runners) {
    let line: string;
    try {
      const api = new GitLabApi(runner.url!, runner.tlsCaFile, () => undefined);
      try {
        // As GitLab Runner's verify: the runner's info goes with the token (GitLab records it on the runner manager).
        const info = runnerInfo(executorFactory(process.cwd()).create(runner).info);
        const response = await api.verify(runner.token!, { system_id: systemId(), info });
        if (response.status === 200 || response.status === 201) {
          line = `valid    runner=${runner.name} url=${runner.url}`;
        } else {
          failed++;
          line = response.status === 403 || response.status === 401
            ? `INVALID  runner=${runner.name} url=${runner.url}: the coordinator rejected the token (${response.status})`
            : `ERROR    runner=${runner.name} url=${runner.url}: the coordinator answered ${response.status}`;
        }
      } finally {
        api.close();
      }
    } catch (error) {
      failed++;
      line = `ERROR    runner=${runner.name} url=${runner.url}: ${error instanceof Error ? error.message : String(error)}`;
    }
    out(line);
  }
  return failed === 0 ? 0 : 1;
}
