// A fake archiver that records what the cache asks of it, and a job context
// over a temporary cache directory, for the cache module's tests.
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CacheArchiver, CacheEntry, CollectedFiles, LocalCacheContext } from '../../../src/cache/local-cache.ts';
import type { HelperLine } from '../../../src/cache/log-lines.ts';
import type { CacheKeyContext } from '../../../src/cache/cache-key.ts';

export class FakeArchiver implements CacheArchiver {
  readonly calls: string[] = [];
  files: string[] = ['node_modules/a.js'];
  newestModifiedMs = 0;
  collectLines: HelperLine[] = [];
  /** What createZip writes (the file list when undefined). */
  content: string | undefined;
  /** createZip waits for this after writing half of its content. */
  gate: Promise<void> | undefined;
  createError: Error | undefined;

  collect(entry: { paths: readonly string[]; untracked: boolean }): Promise<CollectedFiles> {
    this.calls.push(`collect ${entry.paths.join(',')}${entry.untracked ? ' +untracked' : ''}`);
    return Promise.resolve({ files: this.files, newestModifiedMs: this.newestModifiedMs, lines: this.collectLines });
  }

  async createZip(files: readonly string[], _projectDir: string, destPath: string): Promise<void> {
    this.calls.push(`create ${basename(destPath).replace(/[0-9a-f]+$/, 'X')}`);
    const content = this.content ?? files.join('\n');
    const gate = this.gate;
    if (gate !== undefined) {
      await writeFile(destPath, content.slice(0, content.length / 2));
      await gate;
    }
    if (this.createError !== undefined) throw this.createError;
    await writeFile(destPath, content);
  }

  async extractZip(zipPath: string): Promise<{ lines: readonly HelperLine[] }> {
    this.calls.push(`extract ${zipPath}`);
    if ((await readFile(zipPath, 'utf8')) === 'corrupt') throw new Error('zip: not a valid zip file');
    return { lines: [] };
  }
}

const roots: string[] = [];
const removeRoots = (): void => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
};
process.on('exit', removeRoots);
// Deno's test runner ends without `exit`; it dispatches `unload`.
(globalThis as { addEventListener?: (type: string, listener: () => void) => void }).addEventListener?.('unload', removeRoots);

export function entry(overrides: Partial<CacheEntry> = {}): CacheEntry {
  return { key: 'deps', paths: ['node_modules'], untracked: false, policy: 'pull-push', when: 'on_success', fallbackKeys: [], ...overrides };
}

/** A key context over `variables` (`$NAME`/`${NAME}` expanded), for job `build` on ref `main`. */
export function keyContext(variables: Record<string, string> = {}, overrides: Partial<CacheKeyContext> = {}): CacheKeyContext {
  return {
    expand: (text) => text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => variables[braced ?? bare!] ?? ''),
    value: (name) => variables[name],
    jobName: 'build',
    ref: 'main',
    hashKeys: false,
    ...overrides,
  };
}

export async function cacheContext(variables: Record<string, string> = {}, overrides: Partial<LocalCacheContext> = {}): Promise<LocalCacheContext> {
  const root = await mkdtemp(join(tmpdir(), 'runner-cache-'));
  roots.push(root);
  return {
    ...keyContext(variables),
    cacheDir: join(root, 'cache', 'group', 'project'),
    projectDir: join(root, 'builds', 'project'),
    cleanUpFailedExtract: false,
    ...overrides,
  };
}
