// `runner verify`: asks each coordinator whether its runner's token is valid
// (POST /api/v4/runners/verify) and says so, one line per runner.
import { loadConfig } from '../config/load.ts';
import { GitLabApi } from '../sources/gitlab/api.ts';

export interface VerifyOptions {
  readonly configPath: string | undefined;
}

/** 0: every coordinator runner is valid; 1: one is not or could not be asked; 2 (thrown ConfigError): bad config. */
export async function verifyCommand(options: VerifyOptions, out: (line: string) => void = (line) => process.stdout.write(line + '\n')): Promise<number> {
  const { config } = loadConfig(options.configPath, process.cwd());
  const runners = config.runners.filter((runner) => runner.url !== undefined);
  if (runners.length === 0) {
    out('No runner with a url in the configuration: nothing to verify (local queues need no token).');
    return 0;
  }
  let failed = 0;
  for (const runner of runners) {
    let line: string;
    try {
      const api = new GitLabApi(runner.url!, runner.tlsCaFile, () => undefined);
      try {
        const response = await api.verify(runner.token!);
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
