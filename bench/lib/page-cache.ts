// Drops the kernel's page cache of files, so that an artefact `npm run package` has just written is
// measured as an installed one read back from disk is. Measured on this machine (Linux 6.18): the
// Node single executable idled at 53.6 MiB RSS while its pages were those its copy had written,
// and at 50.9 MiB once they had been dropped and faulted in again - the kernel maps a file's
// page-cache folios whole, and folios a write made are larger than those a read makes. The RSS of
// every run after the first then counts the pages the runs themselves read.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

/**
 * GNU dd's `iflag=nocache count=0` drops the cache of the whole file (coreutils' manual), once its
 * pages are written back: dirty pages (a file `tar` or the package build wrote a moment ago) stay,
 * so `sync FILE...` writes them first.
 */
export function dropPageCache(paths: readonly string[]): void {
  const files = paths.flatMap(filesUnder);
  if (files.length === 0) return;
  const synced = spawnSync('sync', files, { encoding: 'utf8' });
  if (synced.status !== 0) throw new Error(`sync could not write back ${files.length} files: ${synced.stderr.trim() || synced.error?.message}`);
  for (const file of files) {
    const result = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`dd could not drop the page cache of ${file}: ${result.stderr.trim() || result.error?.message}`);
  }
}
