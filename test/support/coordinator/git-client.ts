// The git command line as a client of the test coordinator, for its own
// tests: never blocking (the coordinator answering it lives in the same
// process), never prompting, without the machine's system config.
import { spawn } from 'node:child_process';
import { collectOutput } from '../child-output.ts';

export interface GitResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `git ...args` in `cwd` with `env` added to the environment. */
export function gitWithEnv(env: Readonly<Record<string, string>>, cwd: string, ...args: string[]): Promise<GitResult> {
  const child = spawn('git', args, {
    cwd,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', GIT_CONFIG_NOSYSTEM: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collectOutput(child).done.then(({ code, stdout, stderr }) => ({ status: code, stdout, stderr }));
}

export const git = (cwd: string, ...args: string[]): Promise<GitResult> => gitWithEnv({}, cwd, ...args);

/** GIT_CONFIG_COUNT/KEY/VALUE for `config`: seen by git and every git (and git-lfs) it starts, as `-c` is. */
export function gitConfigEnv(config: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(config);
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}
