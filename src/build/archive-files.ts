// The archive side of the cache and artifact stages: the artifacts module's
// collector, zip/gzip writers and zip reader, shaped as the cache stages'
// archiver and as the artifact uploader's `archive.NewArchiver` by format.
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeGzip } from '../artifacts/gzip-writer.ts';
import { type ArchiveEntry, collectEntries } from '../artifacts/paths.ts';
import { writeZip } from '../artifacts/zip-writer.ts';
import { extractZip } from '../artifacts/zip-reader.ts';
import type { CacheArchiver, CollectedFiles } from '../cache/local-cache.ts';
import { helper, type HelperLine } from '../cache/log-lines.ts';

/** An archive could not be made as the entry asks (GitLab's archiver errors: the helper's FATAL line). */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

/** The cache stages' archiver: one per stage, remembering the kinds of what it collected for the zip. */
/** `owner`: who extracted files belong to (the job's user); undefined: the runner. */
export function cacheArchiver(owner?: { readonly uid: number; readonly gid: number }): CacheArchiver {
  const kinds = new Map<string, ArchiveEntry['kind']>();
  return {
    async collect(entry, projectDir): Promise<CollectedFiles> {
      const collected = await collectEntries({ projectDir, paths: entry.paths, untracked: entry.untracked });
      let newestModifiedMs = 0;
      kinds.clear();
      for (const { name, kind } of collected.entries) {
        kinds.set(name, kind);
        const info = await lstat(join(projectDir, name)).catch(() => undefined);
        if (info !== undefined) newestModifiedMs = Math.max(newestModifiedMs, info.mtimeMs);
      }
      const lines: HelperLine[] = collected.log.map((line) => helper(line.level, line.message));
      return { files: collected.entries.map((e) => e.name), newestModifiedMs, lines };
    },
    async createZip(files, projectDir, destPath): Promise<void> {
      const entries = files.map((name) => ({ name, kind: kinds.get(name) ?? 'file' }));
      await writeZip(entries, destPath, { projectDir });
    },
    async extractZip(zipPath, projectDir) {
      const lines: HelperLine[] = [];
      await extractZip(zipPath, projectDir, { onWarning: (message) => lines.push(helper('warning', message)), owner });
      return { lines };
    },
  };
}

/**
 * Writes the archive of an artifacts entry in its format (zip, gzip, raw:
 * GitLab's archiver by format) to `dest`, never empty; warnings go to
 * `warn`. Rejects with an ArchiveError for what GitLab's archivers refuse.
 */
export async function writeArtifactArchive(
  entries: readonly ArchiveEntry[],
  format: string,
  projectDir: string,
  dest: string,
  warn: (message: string) => void,
): Promise<void> {
  switch (format) {
    case '':
    case 'zip':
      await writeZip(entries, dest, { projectDir, onWarning: warn });
      return;
    case 'gzip':
      // Anything but a regular file is the gzip archiver's error, as in GitLab.
      await writeGzip(entries, dest, { projectDir, onWarning: warn });
      return;
    case 'raw': {
      if (entries.length > 1) throw new ArchiveError('only one file can be sent as raw');
      // Stricter than GitLab Runner (which opens the path, following a link): only a regular file, so a link cannot send what lies outside the project.
      const only = entries[0]!;
      if (only.kind !== 'file' || !(await lstat(join(projectDir, only.name))).isFile()) {
        throw new ArchiveError(`${only.name}: only a regular file can be sent as raw`);
      }
      await pipeline(createReadStream(join(projectDir, only.name)), createWriteStream(dest));
      return;
    }
    default:
      throw new ArchiveError(`unsupported archive format: ${format}`);
  }
}
