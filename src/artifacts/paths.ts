// The files of one artifacts or cache entry, relative to the project directory, as GitLab Runner's
// fileArchiver collects them (commands/helpers/file_archiver.go): each `paths` glob is resolved
// inside the project directory, every match walked without following symlinks (a directory brings
// its whole tree), `exclude` globs drop single entries, `untracked` adds what `git ls-files -o -z`
// lists; the result is sorted and de-duplicated. Nothing outside the project directory is taken.
// The log lines GitLab's helper prints are returned, not printed, for the caller's job log.

import { spawn } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { lstat, opendir, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import { GarbageNudge, holdYoungGeneration } from '../runtime/gc.ts';
import { compileComponents, compileMatcher, expandBraces, type GlobComponent, hasGlobMeta, splitPattern } from '../system/glob.ts';

export type ArchiveEntryKind = 'file' | 'directory' | 'symlink';

/** One entry of an archive: its name relative to the project directory, with `/` separators. */
export interface ArchiveEntry {
  readonly name: string;
  readonly kind: ArchiveEntryKind;
}

/** A line for the job log; GitLab's helper prints warnings as `WARNING: message`. */
export interface ArchiveLogLine {
  readonly level: 'info' | 'warning';
  readonly message: string;
}

export interface CollectOptions {
  /** The project directory (CI_PROJECT_DIR); the archive's names are relative to it. */
  readonly projectDir: string;
  readonly paths: readonly string[];
  readonly exclude?: readonly string[] | undefined;
  readonly untracked?: boolean | undefined;
  /** The git binary for `untracked`; default `git`. */
  readonly git?: string | undefined;
}

export interface CollectedEntries {
  /** Sorted by name (byte order for ASCII, as Go's sort.Strings), each name once. */
  readonly entries: readonly ArchiveEntry[];
  readonly log: readonly ArchiveLogLine[];
}

/** GitLab's rendering of a log line. */
export function formatArchiveLogLine(line: ArchiveLogLine): string {
  return line.level === 'warning' ? `WARNING: ${line.message}` : line.message;
}

class OutsideProjectError extends Error {}

function kindOf(entry: { isDirectory(): boolean; isSymbolicLink(): boolean; isFile(): boolean }): ArchiveEntryKind | undefined {
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isDirectory()) return 'directory';
  if (entry.isFile()) return 'file';
  return undefined; // sockets, pipes, devices: GitLab's archiver ignores them
}

function isOutside(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/** Collects the entries of an artifacts/cache entry. Never throws for a bad path: it logs, as GitLab does. */
export async function collectEntries(options: CollectOptions): Promise<CollectedEntries> {
  const release = holdYoungGeneration();
  try {
    return await collect(options);
  } finally {
    release();
  }
}

async function collect(options: CollectOptions): Promise<CollectedEntries> {
  const nudge = new GarbageNudge();
  const wd = resolve(options.projectDir);
  const realWd = await realpath(wd);
  const log: ArchiveLogLine[] = [];
  const found = new Map<string, ArchiveEntryKind>();
  const excludedCounts = new Map<string, number>();
  const excludeRules: { rule: string; match: (path: string) => boolean }[] = [];
  for (const rule of options.exclude ?? []) {
    const rel = relativeInProject(wd, rule);
    if (rel instanceof Error) log.push({ level: 'warning', message: `isExcluded: ${rel.message}` });
    else excludeRules.push({ rule, match: compileMatcher(rel) });
  }

  /** fileArchiver.process: true when the path is (again) part of the archive. */
  const processPath = (rel: string, kind: ArchiveEntryKind | undefined, shown: string): boolean => {
    if (isOutside(rel)) {
      log.push({ level: 'warning', message: `${shown}: not supported: outside build directory` });
      return false;
    }
    const name = rel.split(sep).join('/');
    const rule = excludeRules.find((one) => one.match(name));
    if (rule !== undefined) {
      excludedCounts.set(rule.rule, (excludedCounts.get(rule.rule) ?? 0) + 1);
      return false;
    }
    if (kind === undefined) {
      log.push({ level: 'warning', message: `File ignored: ${shown}` });
      return false;
    }
    found.set(name, kind);
    return true;
  };

  /** Refuses a path whose existing parents lead out of the project through a symlink. */
  const checkParents = async (rel: string): Promise<void> => {
    const parent = posix.dirname(rel);
    if (parent === '.' || parent === '') return;
    let real: string;
    try {
      real = await realpath(resolve(wd, parent));
    } catch {
      return; // a missing parent: the lstat of the path itself reports it
    }
    if (isOutside(relative(realWd, real))) throw new OutsideProjectError(`${rel}: not supported: outside build directory`);
  };

  /** filepath.Walk from a match: lstat-based, never following a symlink. */
  const walk = async (rel: string, kind: ArchiveEntryKind | undefined): Promise<number> => {
    nudge.addEntry();
    let count = processPath(rel, kind, rel) ? 1 : 0;
    if (kind !== 'directory') return count;
    let children: Dirent[];
    try {
      children = await readdir(resolve(wd, rel), { withFileTypes: true });
    } catch (error) {
      log.push({ level: 'warning', message: `Walking ${rel} ${(error as Error).message}` });
      return count;
    }
    // Sorted children, as filepath.Walk reads them; only one directory's names are held at a time per level.
    children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const child of children) count += await walk(rel === '.' ? child.name : `${rel}/${child.name}`, kindOf(child));
    return count;
  };

  for (const path of options.paths) {
    if (path === '') {
      log.push({ level: 'warning', message: 'No matching files. Path is empty.' });
      continue;
    }
    const rel = relativeInProject(wd, path);
    if (rel instanceof Error) {
      log.push({ level: 'warning', message: `processPath: ${rel.message}` });
      continue;
    }
    let count = 0;
    try {
      for (const match of await globMatches(wd, rel)) {
        await checkParents(match.name);
        count += await walk(match.name, match.kind);
      }
    } catch (error) {
      if (!(error instanceof OutsideProjectError)) throw error;
      log.push({ level: 'warning', message: error.message });
    }
    log.push(
      count === 0
        ? {
          level: 'warning',
          message: `${path}: no matching files. Ensure that the artifact path is relative to the working directory (${wd})`,
        }
        : { level: 'info', message: `${path}: found ${count} matching artifact files and directories` },
    );
  }

  if (options.untracked === true) {
    await collectUntracked(wd, options.git ?? 'git', log, async (name) => {
      const rel = relative(wd, resolve(wd, name));
      if (isOutside(rel)) return processPath(rel, undefined, name);
      try {
        await checkParents(rel.split(sep).join('/'));
        return processPath(rel, kindOf(await lstat(resolve(wd, rel))), name);
      } catch (error) {
        if (error instanceof OutsideProjectError) log.push({ level: 'warning', message: error.message });
        return false;
      }
    });
  }

  for (const [rule, count] of excludedCounts) log.push({ level: 'info', message: `${rule}: excluded ${count} files` });
  const names = [...found.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { entries: names.map((name) => ({ name, kind: found.get(name) ?? 'file' })), log };
}

/** findRelativePathInProject: the pattern relative to the project, or the error GitLab logs. */
function relativeInProject(wd: string, path: string): string | Error {
  const slashPath = path.replaceAll('\\', '/');
  if (posix.normalize(slashPath).replace(/\/$/, '') === wd) return '.';
  const [base, pattern] = hasGlobMeta(slashPath) ? splitPattern(slashPath) : [slashPath, ''];
  const rel = relative(wd, resolve(wd, base));
  if (isOutside(rel)) return new Error(`artifact path is not a subpath of project directory: ${path}`);
  return posix.join(rel.split(sep).join('/') || '.', pattern);
}

/** doublestar.FilepathGlob(rel, WithNoFollow) rooted at the project directory. */
async function globMatches(wd: string, rel: string): Promise<{ name: string; kind: ArchiveEntryKind | undefined }[]> {
  const out = new Map<string, ArchiveEntryKind | undefined>();
  for (const pattern of expandBraces(rel)) {
    await globInto(wd, compileComponents(pattern), '.', out);
  }
  return [...out].map(([name, kind]) => ({ name, kind }));
}

async function globInto(
  wd: string,
  components: readonly GlobComponent[],
  dir: string,
  out: Map<string, ArchiveEntryKind | undefined>,
): Promise<void> {
  const join = (name: string): string => (dir === '.' ? name : `${dir}/${name}`);
  const [head, ...rest] = components;
  if (head === undefined) {
    if (!out.has(dir)) {
      try {
        out.set(dir, kindOf(await lstat(resolve(wd, dir))));
      } catch {
        // vanished: not a match
      }
    }
    return;
  }
  if (head.kind === 'literal') {
    const name = join(head.name);
    if (rest.length === 0) return globInto(wd, rest, name, out);
    try {
      if ((await stat(resolve(wd, name))).isDirectory()) await globInto(wd, rest, name, out);
    } catch {
      // missing: no match, GitLab hides "does not exist"
    }
    return;
  }
  let children: Dirent[];
  try {
    children = [];
    for await (const child of await opendir(resolve(wd, dir))) children.push(child);
  } catch {
    return;
  }
  if (head.kind === 'globstar') {
    // Zero directories, then each real subdirectory: symlinked directories are not followed.
    await globInto(wd, rest, dir, out);
    for (const child of children) {
      if (child.isDirectory()) await globInto(wd, components, join(child.name), out);
    }
    return;
  }
  for (const child of children) {
    if (!head.regexp.test(child.name)) continue;
    if (rest.length === 0) {
      if (!out.has(join(child.name))) out.set(join(child.name), kindOf(child));
    } else if (child.isDirectory() || child.isSymbolicLink()) {
      await globInto(wd, rest, join(child.name), out);
    }
  }
}

/** processUntracked: `git ls-files -o -z` in the project directory, read as it streams. */
async function collectUntracked(
  wd: string,
  git: string,
  log: ArchiveLogLine[],
  process: (name: string) => Promise<boolean>,
): Promise<void> {
  const child = spawn(git, ['ls-files', '-o', '-z'], { cwd: wd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  const exited = new Promise<number | string>((resolveExit) => {
    child.on('error', (error) => resolveExit(error.message));
    child.on('close', (code, signal) => resolveExit(code ?? `signal ${String(signal)}`));
  });
  let count = 0;
  let pending = '';
  for await (const chunk of child.stdout.setEncoding('utf8')) {
    pending += chunk as string;
    let nul: number;
    while ((nul = pending.indexOf('\0')) >= 0) {
      const name = pending.slice(0, nul);
      pending = pending.slice(nul + 1);
      if (await process(name)) count++;
    }
  }
  const code = await exited;
  if (code !== 0) {
    const reason = typeof code === 'number' ? `exit status ${code}` : code;
    log.push({ level: 'warning', message: `untracked: ${reason}${stderr.trim() === '' ? '' : ` (${stderr.trim()})`}` });
    return;
  }
  log.push(count === 0 ? { level: 'warning', message: 'untracked: no files' } : { level: 'info', message: `untracked: found ${count} files` });
}
