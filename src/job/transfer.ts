// Moving a job's artifacts between the runner and the job's source: the
// build sequence builds and extracts the archives, a source stores and
// serves them (a coordinator's artifact endpoints, the local queue's
// directory). What moved is recorded for the job's result and metrics.
import type { DependencySpec } from './model.ts';

/** One archive to upload, as the job's `artifacts:` entry describes it. */
export interface ArtifactUpload {
  readonly name: string | undefined;
  /** archive, junit, ... (GitLab's artifact_type). */
  readonly type: string;
  /** zip, gzip or raw. */
  readonly format: string;
  /** GitLab's expire_in as written ("1 week"); undefined: the source's default. */
  readonly expireIn: string | undefined;
}

/**
 * Why a transfer failed, as metrics count it: the coordinator's answers
 * (413, 403, 401, 404, 503, other 5xx, other 4xx), no answer at all, an
 * archive that could not be written or read, a stop.
 */
export const TRANSFER_FAILURES = [
  'too_large',
  'forbidden',
  'unauthorized',
  'not_found',
  'service_unavailable',
  'server_error',
  'rejected',
  'network',
  'archive',
  'canceled',
] as const;
export type TransferFailure = (typeof TRANSFER_FAILURES)[number];

export interface TransferReport {
  readonly ok: boolean;
  /** Bytes that crossed (the archive's size when it did). */
  readonly bytes: number;
  readonly failure?: TransferFailure | undefined;
}

/**
 * A line of the transfer for the job log, as GitLab Runner's helper logs it
 * (logrus: a level, a message, fields); the build renders it in the helper's
 * form (`Uploading artifacts as "archive" to coordinator... 201 Created  id=1 ...`).
 */
export interface TransferLogEntry {
  readonly level: 'info' | 'warning' | 'error' | 'fatal';
  readonly message: string;
  readonly fields?: Readonly<Record<string, string | number | undefined>> | undefined;
}

/** Receives the transfer's lines for the job log; values of fields are masked like all job output. */
export type TransferLog = (entry: TransferLogEntry) => void;

/** How the job wants a download made, as the build resolved it from the job's settings. */
export interface DownloadPreferences {
  /** FF_USE_DIRECT_DOWNLOAD: ask the coordinator to redirect to object storage. */
  readonly directDownload: boolean;
}

/** A source's artifact store, as the build sequence uses it. */
export interface ArtifactTransport {
  /** Uploads one archive file. Never rejects for a failed upload: the report says it, the log says why. */
  upload(file: string, artifact: ArtifactUpload, log: TransferLog, signal: AbortSignal): Promise<TransferReport>;
  /** Downloads an earlier job's archive into `dest` (a zip). Never rejects for a failed download. */
  download(dependency: DependencySpec, dest: string, options: DownloadPreferences, log: TransferLog, signal: AbortSignal): Promise<TransferReport>;
}

/** What a job's artifact and cache stages moved, for its result and the metrics. */
export interface TransferRecord {
  readonly kind: 'artifact' | 'cache';
  /** artifact: upload/download; cache: upload (archive_cache) / download (restore_cache). */
  readonly direction: 'upload' | 'download';
  readonly result: 'success' | 'failure';
  readonly bytes: number;
  readonly seconds: number;
  readonly failure?: TransferFailure | undefined;
  /** restore_cache only: whether the key, a fallback key, or none had an archive. */
  readonly cache?: 'hit' | 'fallback_hit' | 'miss' | undefined;
}
