// The git repositories the corpus jobs check out, one per project, served by
// the test coordinator. The real projects' repositories cannot be fetched
// offline: each holds only the files its jobs use, and where a job calls the
// project's own script or Makefile target, a small stand-in written here
// (each says so in a comment) prints what the job's log then shows.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { GitRepository } from '../../../support/coordinator/coordinator.ts';
import { FILES, type ProjectName, type RepoCommit, type RepoFile } from './repository-files.ts';

export type { ProjectName } from './repository-files.ts';

/** Where each corpus project lives on the coordinator (its full path, so CI_PROJECT_DIR ends in it). */
export const PROJECT_PATHS: Readonly<Record<ProjectName, string>> = {
  'bash-template': 'demo/bash-template',
  'getting-started': 'demo/getting-started',
  'plain-html': 'pages/plain-html',
  'cpp': 'demo/cpp-hello',
  'hugo': 'pages/hugo',
  'hugo-theme': 'pages/gohugo-theme-ananke',
  'gitlab-env': 'demo/gitlab-env',
  'gitlab-runner': 'gitlab-org/gitlab-runner',
  'gitlab-test': 'gitlab-org/ci-cd/gitlab-runner-pipeline-tests/gitlab-test',
  'fdroidserver': 'fdroid/fdroidserver',
  'glib': 'GNOME/glib',
  'qemu': 'qemu-project/qemu',
  'git': 'git-vcs/git',
};

const IDENTITY = ['-c', 'user.name=Corpus Author', '-c', 'user.email=corpus@example.com', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false'];

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...IDENTITY, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
  }).trim();
}

function writeFiles(dir: string, files: Readonly<Record<string, string | RepoFile>>): void {
  for (const [name, file] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    const { text, executable } = typeof file === 'string' ? { text: file, executable: false } : file;
    writeFileSync(path, text);
    chmodSync(path, executable ? 0o755 : 0o644);
  }
}

/** Makes one project's repository under `root`; `made` holds the ones made before (for submodules). */
function makeRepository(root: string, name: ProjectName, history: readonly RepoCommit[], made: ReadonlyMap<ProjectName, GitRepository>): GitRepository {
  const dir = resolve(root, name);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  for (const commit of history) {
    writeFiles(dir, commit.files);
    git(dir, 'add', '--all');
    for (const submodule of commit.submodules ?? []) {
      const target = made.get(submodule.project);
      if (!target) throw new Error(`submodule ${submodule.path}: project ${submodule.project} is not made yet`);
      git(dir, 'config', '--file', '.gitmodules', `submodule.${submodule.path}.path`, submodule.path);
      git(dir, 'config', '--file', '.gitmodules', `submodule.${submodule.path}.url`, submodule.url);
      git(dir, 'update-index', '--add', '--cacheinfo', `160000,${target.sha},${submodule.path}`);
      git(dir, 'add', '.gitmodules');
    }
    git(dir, 'commit', '--quiet', '-m', commit.message);
    if (commit.tag) git(dir, 'tag', commit.tag);
  }
  const [sha = '', authorName = '', authorEmail = '', timestamp = ''] = git(dir, 'log', '-1', '--format=%H%n%an%n%ae%n%cI').split('\n');
  return { path: dir, sha, ref: 'main', message: history[history.length - 1]!.message, authorName, authorEmail, timestamp };
}

/** Every corpus project's repository, made under `root` (submodule targets first). */
export function createCorpusRepositories(root: string): Map<ProjectName, GitRepository> {
  const made = new Map<ProjectName, GitRepository>();
  // The theme is a submodule of the Hugo site: it comes first.
  const names = (Object.keys(FILES) as ProjectName[]).sort((a, b) => Number(b === 'hugo-theme') - Number(a === 'hugo-theme'));
  for (const name of names) made.set(name, makeRepository(root, name, FILES[name], made));
  return made;
}
