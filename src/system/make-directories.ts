// mkdir -p done one directory at a time. Node's own recursive mkdir never
// returns on a path under /proc (it retries the ENOENT procfs answers for
// ever, at full CPU), and the runtimes word a dangling symlink's error
// differently; this walks the path itself, so every runtime answers the same
// error, at once.
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** An error with the `code` the callers' messages go by (ENOENT, ENOTDIR, ...). */
function codedError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * Creates `path` and the directories above it that are missing, each with
 * `mode`. Resolves when `path` is a directory; rejects with the failing
 * step's error (its `code` kept): EEXIST when `path` is there but not a
 * directory, ENOTDIR when a directory above it is a file, ENOENT when a part
 * cannot be made (procfs) or is a dangling symlink.
 */
export async function makeDirectories(path: string, mode?: number): Promise<void> {
  const target = resolve(path);
  const missing: string[] = [];
  for (let dir = target;;) {
    try {
      // What mkdir answers for a path that is there but not a directory.
      if (!(await stat(dir)).isDirectory()) throw codedError(dir === target ? 'EEXIST' : 'ENOTDIR', `${dir} is not a directory`);
      break;
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw error;
      missing.unshift(dir);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  for (const dir of missing) {
    try {
      await mkdir(dir, mode === undefined ? {} : { mode });
    } catch (error) {
      // Made meanwhile by another process is fine; anything else (a dangling symlink included) is checked below.
      if (codeOf(error) !== 'EEXIST') throw error;
    }
  }
  const made = await stat(target).catch((error: unknown) => {
    throw codedError(codeOf(error) ?? 'ENOENT', `${target} is not there after creating it (a dangling symlink?)`);
  });
  if (!made.isDirectory()) throw codedError('EEXIST', `${target} is not a directory`);
}
