// A coordinator's job artifacts as the build sequence's artifact transport:
// uploads with the job's own token, downloads with each dependency's token,
// through GitLab's artifact endpoints (artifacts-client.ts), ending a failed
// transfer with the helper's `FATAL:` line as GitLab Runner's does.
import type { DependencySpec, JobVariable } from '../../job/model.ts';
import type { ArtifactTransport, ArtifactUpload, TransferFailure, TransferLog, TransferReport } from '../../job/transfer.ts';
import { parseGoBool } from '../../system/go-bool.ts';
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

/** FF_USE_DIRECT_DOWNLOAD as the downloader reads it from the job's environment (default on). */
function directDownload(variables: readonly JobVariable[]): boolean {
  const last = variables.findLast((variable) => variable.key === 'FF_USE_DIRECT_DOWNLOAD');
  return last === undefined ? true : parseGoBool(last.value) ?? true;
}

export class GitLabArtifacts implements ArtifactTransport {
  private readonly direct: boolean;

  constructor(
    private readonly api: GitLabApi,
    private readonly jobId: number,
    private readonly jobToken: string,
    variables: readonly JobVariable[],
  ) {
    this.direct = directDownload(variables);
  }

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

  async download(dependency: DependencySpec, dest: string, log: TransferLog, signal: AbortSignal): Promise<TransferReport> {
    const id = Number(dependency.id);
    const result = await downloadArtifacts(this.api, id, dependency.token, dest, { directDownload: this.direct, signal }, log);
    if (result.ok) return { ok: true, bytes: result.bytes };
    log({ level: 'fatal', message: result.error ?? 'download failed' });
    return { ok: false, bytes: 0, failure: failureOf(result) };
  }
}
