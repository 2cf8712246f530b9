// The lines of GitLab Runner's helper commands (artifacts-uploader,
// artifacts-downloader, cache-archiver, cache-extractor) as its job log has
// them: logrus entries in log/runner_formatter.go's form, coloured by level,
// the message padded to 50 columns, then the fields sorted by key. Each
// helper starts with its `Runtime platform` line (helpers/cli/runtime_platform.go).
// The bytes are cache/log-lines.ts's, the one place that writes them.
import type { TransferLogEntry } from '../job/transfer.ts';
import { architecture, goArch, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';
import { renderHelperLine as renderHelperEntry } from '../cache/log-lines.ts';

/** One entry as the helper writes it, with its newline. */
export function renderHelperLine(entry: TransferLogEntry): string {
  return renderHelperEntry(entry.level, entry.message, entry.fields);
}

/** The helper's first line: this runner's platform, version and process. */
export function runtimePlatformLine(): TransferLogEntry {
  return {
    level: 'info',
    message: 'Runtime platform',
    fields: {
      arch: goArch(architecture),
      os: operatingSystem,
      pid: process.pid,
      revision: versionInfo.revision.slice(0, 8),
      version: versionInfo.version,
    },
  };
}
