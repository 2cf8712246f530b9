// Real git repositories for the tests, made with the git command line (and
// `git lfs` for LFS files): plain files, submodules, LFS-tracked files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { GitRepository } from './types.ts';

const GIT_IDENTITY = ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false'];

/** A submodule as the superproject records it: an entry in .gitmodules and a gitlink. */
export interface SubmoduleSpec {
  /** Where it sits in the superproject, e.g. `vendor/lib`. */
  readonly path: string;
  /** As .gitmodules has it: relative to the superproject's remote (`../lib.git`) or absolute. */
  readonly url: string;
  /** The submodule commit the superproject records (the submodule's repository must have it). */
  readonly sha: string;
  /** submodule.<name>; default the path. */
  readonly name?: string;
}

export interface GitRepositoryOptions {
  /** Default main. */
  readonly branch?: string;
  /** Default "Initial commit". */
  readonly message?: string;
  readonly submodules?: readonly SubmoduleSpec[];
  /**
   * Files stored with Git LFS: `git lfs install --local`, `git lfs track` of
   * each path, then added and committed, so the commit holds pointers and
   * the objects sit in .git/lfs/objects/. Needs git-lfs.
   */
  readonly lfs?: Readonly<Record<string, string | Uint8Array>>;
}

function gitIn(dir: string): (...args: string[]) => string {
  return (...args) =>
    execFileSync('git', ['-C', dir, ...GIT_IDENTITY, ...args], {
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
    }).trim();
}

function writeFiles(dir: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

/** Records submodules in the index: .gitmodules entries and gitlinks, without cloning them (their URLs may not resolve yet). */
function stageSubmodules(dir: string, submodules: readonly SubmoduleSpec[]): void {
  const git = gitIn(dir);
  for (const submodule of submodules) {
    const name = submodule.name ?? submodule.path;
    git('config', '--file', '.gitmodules', `submodule.${name}.path`, submodule.path);
    git('config', '--file', '.gitmodules', `submodule.${name}.url`, submodule.url);
    // An empty directory, as a clone leaves a submodule that is not initialized.
    mkdirSync(join(dir, submodule.path), { recursive: true });
    git('update-index', '--add', '--cacheinfo', `160000,${submodule.sha},${submodule.path}`);
  }
  if (submodules.length > 0) git('add', '.gitmodules');
}

function stageLfsFiles(dir: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  const git = gitIn(dir);
  git('lfs', 'install', '--local');
  for (const path of Object.keys(files)) git('lfs', 'track', '--filename', path);
  writeFiles(dir, files);
  git('add', '.gitattributes', ...Object.keys(files));
}

function commit(dir: string, branch: string, message: string): GitRepository {
  const git = gitIn(dir);
  git('commit', '--quiet', '--allow-empty', '-m', message);
  const [sha = '', authorName = '', authorEmail = '', timestamp = ''] = git('log', '-1', '--format=%H%n%an%n%ae%n%cI').split('\n');
  return { path: resolve(dir), sha, ref: branch, message, authorName, authorEmail, timestamp };
}

/**
 * A real git repository in `dir` (created if missing) with one commit holding
 * `files` (relative paths, parent directories made as needed), and the
 * submodules and LFS files of `options`, on `branch` (default main). Needs git
 * on PATH (and git-lfs for `options.lfs`).
 */
export function createGitRepository(dir: string, files: Readonly<Record<string, string>>, options: GitRepositoryOptions = {}): GitRepository {
  const branch = options.branch ?? 'main';
  mkdirSync(dir, { recursive: true });
  const git = gitIn(dir);
  git('init', '--quiet', `--initial-branch=${branch}`);
  writeFiles(dir, files);
  git('add', '--all');
  stageSubmodules(dir, options.submodules ?? []);
  if (options.lfs) stageLfsFiles(dir, options.lfs);
  return commit(dir, branch, options.message ?? 'Initial commit');
}

/**
 * A new commit in `superproject` (a working tree) that adds `submodule`,
 * .gitmodules included. Returns the superproject at that commit.
 */
export function addSubmodule(superproject: GitRepository, submodule: SubmoduleSpec, message = `Add submodule ${submodule.path}`): GitRepository {
  stageSubmodules(superproject.path, [submodule]);
  return commit(superproject.path, superproject.ref, message);
}
