// The lines of GitLab Runner's helper commands (artifacts-uploader,
// artifacts-downloader, cache-archiver, cache-extractor) as its job log has
// them: logrus entries in log/runner_formatter.go's form, coloured by level,
// the message padded to 50 columns, then the fields sorted by key. Each
// helper starts with its `Runtime platform` line (helpers/cli/runtime_platform.go).
import type { TransferLogEntry } from '../job/transfer.ts';
import { architecture, goArch, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';
import { ANSI } from './shell/writer.ts';

const STYLE: Readonly<Record<TransferLogEntry['level'], { color: string; prefix: string }>> = {
  info: { color: '', prefix: '' },
  warning: { color: ANSI.yellow, prefix: 'WARNING: ' },
  error: { color: ANSI.boldRed, prefix: 'ERROR: ' },
  fatal: { color: ANSI.boldRed, prefix: 'FATAL: ' },
};

/** Go's %-*s: padded with spaces to WIDTH characters (runes), never cut. */
function padRight(text: string, width: number): string {
  const length = [...text].length;
  return length >= width ? text : text + ' '.repeat(width - length);
}

/** One entry as the helper writes it, with its newline. Fields whose value is undefined are left out. */
export function renderHelperLine(entry: TransferLogEntry): string {
  const { color, prefix } = STYLE[entry.level];
  const fields = entry.fields ?? {};
  const keys = Object.keys(fields).filter((key) => fields[key] !== undefined).sort();
  const tail = keys.map((key) => ` ${color}${key}${ANSI.reset}=${fields[key]}`).join('');
  return `${color}${prefix}${padRight(entry.message, 50 - prefix.length)}${ANSI.reset} ${tail}\n`;
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
