// Real git repositories for the tests, made with the git command line.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { GitRepository } from './types.ts';

const GIT_IDENTITY = ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false'];

/**
 * A real git repository in `dir` (created if missing) with one commit holding
 * `files` (relative paths, parent directories made as needed) on `branch`
 * (default main). Needs git on PATH.
 */
export function createGitRepository(dir: string, files: Readonly<Record<string, string>>, options: { branch?: string; message?: string } = {}): GitRepository {
  const branch = options.branch ?? 'main';
  const message = options.message ?? 'Initial commit';
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', dir, ...GIT_IDENTITY, ...args], {
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
