// A coordinator's job artifacts as the build sequence's artifact transport:
// uploads with the job's own token, downloads with each dependency's token,
// through GitLab's artifact endpoints (artifacts-client.ts), ending a failed
// transfer with the helper's `FATAL:` line as GitLab Runner's does.
import type { DependencySpec } from '../../job/model.ts';
import type { ArtifactTransport, ArtifactUpload, DownloadPreferences, TransferFailure, TransferLog, TransferReport } from '../../job/transfer.ts';
import type { GitLabApi } from './api.ts';
import { type ArtifactFormat, downloadArtifacts, type TransferResult, uploadArtifact } from './artifacts-client.ts';

const FORMATS: readonly string[] = ['zip', 'gzip', 'raw', 'zip_zstd', 'tar_zstd'];

/** Why a transfer failed, from the client's state and the last HTTP status. */
function failureOf(result: TransferResult<string>): TransferFailure {
  switch (result.state) {
    case 'too_large':
    case 'forbidden':
    case 'unauthorized':
    case 'not_found':
    case 'service_unavailable':
    case 'canceled':
      return result.state;
    default:
      if (result.status === 0) return 'network';
      return result.status >= 500 ? 'server_error' : 'rejected';
  }
}

export class GitLabArtifacts implements ArtifactTransport {
  constructor(
    private readonly api: GitLabApi,
    private readonly jobId: number,
    private readonly jobToken: string,
  ) {}

  async upload(file: string, artifact: ArtifactUpload, log: TransferLog, signal: AbortSignal): Promise<TransferReport> {
    const format = FORMATS.includes(artifact.format) ? (artifact.format as ArtifactFormat) : undefined;
    const result = await uploadArtifact(this.api, this.jobId, this.jobToken, file, {
      name: artifact.name,
      type: artifact.type,
      format,
      expireIn: artifact.expireIn,
      signal,
    }, log);
    if (result.ok) return { ok: true, bytes: result.bytes };
    log({ level: 'fatal', message: result.error ?? 'upload failed' });
    return { ok: false, bytes: 0, failure: failureOf(result) };
  }

  async download(dependency: DependencySpec, dest: string, preferences: DownloadPreferences, log: TransferLog, signal: AbortSignal): Promise<TransferReport> {
    const id = Number(dependency.id);
    const result = await downloadArtifacts(this.api, id, dependency.token, dest, { directDownload: preferences.directDownload, signal }, log);
    if (result.ok) return { ok: true, bytes: result.bytes };
    log({ level: 'fatal', message: result.error ?? 'download failed' });
    return { ok: false, bytes: 0, failure: failureOf(result) };
  }
}
