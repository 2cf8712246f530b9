// The local queue's artifact store: a local job's artifacts archive is kept
// beside its result as done/ID.artifacts.zip until it expires.
//
// upload streams the archive into QUEUE/tmp (named after this process, so
// recovery removes what a dead writer left), syncs it and renames it into
// place: a reader sees a whole archive or none. Its expiry (expire_in, as
// GitLab reads it; without one, GitLab's instance default of 30 days) goes
// into done/ID.json when the job finishes. Only zip archives are kept: a
// local job file has no reports, so a gzip or raw upload is refused.
//
// download streams an earlier job's archive to the build's file; a missing or
// expired archive is reported as GitLab Runner's artifacts-downloader reports
// a 404 (ERROR ... not found, then FATAL: file does not exist).
//
// sweepExpired, called from the source's maintain(), removes expired
// archives and archives no result records (a job that died while uploading),
// looking at a bounded number of files per call.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DependencySpec } from '../../job/model.ts';
import type { ArtifactTransport, ArtifactUpload, DownloadPreferences, TransferLog, TransferLogEntry, TransferReport } from '../../job/transfer.ts';
import { expiryOf } from './expire-in.ts';
import { isJobId } from './job-id.ts';
import { archiveAvailable } from './local-needs.ts';
import { artifactsPath, describeCode, FILE_MODE, readResult, selfOwnerName, type StoredArtifacts, tempName, tmpDir } from './queue-files.ts';

/** A line of the store's as GitLab Runner's helper would log it (the build renders it). */
export function runnerLine(level: TransferLogEntry['level'], message: string, fields: Record<string, string | number> = {}): TransferLogEntry {
  return { level, message, fields };
}

const UPLOAD = (type: string): string => `Uploading artifacts as "${type}" to local queue...`;
const DOWNLOAD = 'Downloading artifacts from local queue...';

/** One job's artifact store in a local queue. */
export class LocalArtifactStore implements ArtifactTransport {
  private stored: StoredArtifacts | undefined;

  constructor(private readonly queueDir: string, private readonly jobId: string, private readonly now: () => Date = () => new Date()) {}

  /** The archive this job uploaded, for its result. */
  get artifacts(): StoredArtifacts | undefined {
    return this.stored;
  }

  async upload(file: string, artifact: ArtifactUpload, log: TransferLog, signal: AbortSignal): Promise<TransferReport> {
    const fields = { id: this.jobId };
    if (artifact.format !== 'zip') {
      log(runnerLine('error', UPLOAD(artifact.type), { ...fields, format: artifact.format }));
      log(runnerLine('fatal', `the local queue keeps zip archives only, not ${artifact.format}`));
      return { ok: false, bytes: 0, failure: 'archive' };
    }
    // Absolute: done/ID.json tells `runner submit --wait` and people where it is.
    const target = resolve(artifactsPath(this.queueDir, this.jobId));
    const temp = join(tmpDir(this.queueDir), tempName(target, selfOwnerName()));
    try {
      await pipeline(createReadStream(file), createWriteStream(temp, { flags: 'wx', mode: FILE_MODE }), { signal });
      // Synced before the rename publishes it: after a crash the archive is whole or absent.
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      const bytes = (await stat(temp)).size;
      await rename(temp, target);
      const expires = expiryOf(artifact.expireIn, this.now());
      this.stored = { path: target, expires_at: expires?.toISOString() ?? null, bytes };
      log(runnerLine('info', `${UPLOAD(artifact.type)} ok`, { ...fields, path: target, expires: this.stored.expires_at ?? 'never', bytes }));
      return { ok: true, bytes };
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      const canceled = signal.aborted;
      log(runnerLine('error', UPLOAD(artifact.type), { ...fields, error: canceled ? 'canceled' : describeCode(error) }));
      log(runnerLine('fatal', canceled ? 'canceled' : `cannot store ${target}: ${describeCode(error)}`));
      return { ok: false, bytes: 0, failure: canceled ? 'canceled' : 'archive' };
    }
  }

  /** The queue has no object storage: the download preferences change nothing here. */
  async download(dependency: DependencySpec, dest: string, _preferences: DownloadPreferences, log: TransferLog, signal: AbortSignal): Promise<TransferReport> {
    const fields = { id: dependency.id };
    // Not a job id of this queue (it would name a path elsewhere): no such archive.
    const result = isJobId(dependency.id) ? await readResult(this.queueDir, dependency.id).catch(() => undefined) : undefined;
    if (!result || !(await archiveAvailable(this.queueDir, result, this.now()))) {
      log(runnerLine('error', `${DOWNLOAD} not found`, fields));
      log(runnerLine('fatal', 'file does not exist'));
      return { ok: false, bytes: 0, failure: 'not_found' };
    }
    try {
      await pipeline(createReadStream(artifactsPath(this.queueDir, dependency.id)), createWriteStream(dest, { mode: FILE_MODE }), { signal });
      const bytes = (await stat(dest)).size;
      log(runnerLine('info', `${DOWNLOAD} ok`, { ...fields, path: resolve(artifactsPath(this.queueDir, dependency.id)) }));
      return { ok: true, bytes };
    } catch (error) {
      const canceled = signal.aborted;
      const notFound = (error as NodeJS.ErrnoException).code === 'ENOENT';
      log(runnerLine('error', `${DOWNLOAD} ${notFound ? 'not found' : 'error'}`, { ...fields, ...(notFound ? {} : { error: describeCode(error) }) }));
      log(runnerLine('fatal', notFound ? 'file does not exist' : canceled ? 'canceled' : describeCode(error)));
      return { ok: false, bytes: 0, failure: canceled ? 'canceled' : notFound ? 'not_found' : 'archive' };
    }
  }
}

/** The most archives one sweep looks at. */
export const SWEEP_LIMIT = 100;

/**
 * Removes expired archives, and archives of finished jobs whose result does
 * not record them, looking at no more than SWEEP_LIMIT archives after
 * `cursor` (an archive name; '' from the start); resolves to the cursor for
 * the next call ('' when it went round) and what it removed.
 */
export async function sweepExpired(queueDir: string, cursor: string, now = new Date()): Promise<{ cursor: string; removed: string[] }> {
  const done = join(queueDir, 'done');
  const suffix = '.artifacts.zip';
  const names = (await readdir(done).catch(() => [])).filter((name) => name.endsWith(suffix) && name > cursor).sort().slice(0, SWEEP_LIMIT);
  const removed: string[] = [];
  for (const name of names) {
    const id = name.slice(0, -suffix.length);
    const result = await readResult(queueDir, id).catch(() => null);
    // No result yet: the job is still running (or its result is unreadable: leave it to a person).
    if (result === undefined || result === null) continue;
    const stored = result.artifacts;
    const expired = !stored || (stored.expires_at !== null && Date.parse(stored.expires_at) <= now.getTime());
    if (expired) {
      await rm(join(done, name), { force: true });
      removed.push(join(done, name));
    }
  }
  return { cursor: names.length === SWEEP_LIMIT ? names[names.length - 1]! : '', removed };
}
