// The Debian package (dpkg-deb): /usr/bin/runner (Node's single executable), the systemd unit of
// deploy/systemd with its ExecStart pointed there, /etc/runner/config.toml (config.toml.example
// with jobs run as the `runner` user, which postinst creates), the docs Debian asks for.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { dirname, join, relative } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';
import { DEBIAN_PACKAGE_NAME, debianArchitecture } from './release-files.ts';
import { runCommand } from './run-command.ts';
import { SYSTEM_ID_FILE } from '../../src/config/system-id.ts';
import { PROCESS_RECORDS_DIR } from '../../src/cli/process-records.ts';

export interface DebianPackageInput {
  readonly root: string;
  readonly info: VersionInfo;
  readonly executable: string;
  readonly licenses: string;
  /** `runner --help`, for the manual page. */
  readonly help: string;
  readonly workDir: string;
  readonly output: string;
}

const MAINTAINER = 'runner developers <runner-developers@users.noreply.github.com>';

/** Replaces `from` in `text`, failing when it is not there: the package must follow its sources. */
function replaceOnce(text: string, from: string | RegExp, to: string, what: string): string {
  const replaced = text.replace(from, to);
  if (replaced === text) throw new Error(`the Debian package build found no ${what} to replace (${String(from)})`);
  return replaced;
}

/** deploy/systemd/runner.service, for /usr/bin/runner and with this package's documentation. */
export function packagedUnit(unit: string): string {
  let text = replaceOnce(
    unit,
    /^ExecStart=.*$/m,
    'ExecStart=/usr/bin/runner run --config /etc/runner/config.toml --working-directory /var/lib/runner',
    'ExecStart',
  );
  text = replaceOnce(text, /^Documentation=.*$/m, `Documentation=file:///usr/share/doc/${DEBIAN_PACKAGE_NAME}/README.md`, 'Documentation');
  // The header explains a manual install; the package has done those steps.
  const unitStart = text.indexOf('[Unit]');
  return `# systemd unit of the ${DEBIAN_PACKAGE_NAME} package: the runner as root, jobs as the\n# \`runner\` user (/etc/runner/config.toml). Change it with \`systemctl edit runner\`.\n${
    text.slice(unitStart)
  }`;
}

/** The service's local queue, absolute so that `runner submit --config /etc/runner/config.toml` finds it from any directory. */
export const PACKAGED_QUEUE_DIR = '/var/lib/runner/queue';

/** config.toml.example with its [[runners]] running jobs as the package's `runner` user, its queue the service's. */
export function packagedConfig(example: string): string {
  let text = replaceOnce(example, /^# {2}user = "runner-job"$/m, '  user = "runner"', 'commented `user` line');
  text = replaceOnce(text, /^ {2}queue_dir = "queue"$/m, `  queue_dir = "${PACKAGED_QUEUE_DIR}"`, '`queue_dir` line');
  return `# /etc/runner/config.toml of the ${DEBIAN_PACKAGE_NAME} package. Jobs run as the \`runner\`\n# user the package created; \`systemctl reload runner\` re-reads this file.\n${text}`;
}

const POSTINST = `#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
  # The user jobs run as (user = "runner" in /etc/runner/config.toml), with a home of its own.
  install -d -m 0711 /var/lib/runner /var/lib/runner/home
  if ! getent passwd runner >/dev/null; then
    adduser --system --group --quiet --home /var/lib/runner/home/runner --shell /usr/sbin/nologin \\
      --gecos "runner CI jobs" runner
  fi
  chmod 0600 /etc/runner/config.toml
fi
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
  deb-systemd-helper unmask runner.service >/dev/null || true
  if deb-systemd-helper --quiet was-enabled runner.service; then
    deb-systemd-invoke restart runner.service >/dev/null || true
  else
    deb-systemd-helper enable runner.service >/dev/null || true
    deb-systemd-invoke start runner.service >/dev/null || true
  fi
fi
`;

const PRERM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
  deb-systemd-invoke stop runner.service >/dev/null || true
fi
`;

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ] && [ -x "/usr/bin/deb-systemd-helper" ]; then
  deb-systemd-helper mask runner.service >/dev/null || true
fi
if [ "$1" = "purge" ]; then
  if [ -x "/usr/bin/deb-systemd-helper" ]; then
    deb-systemd-helper purge runner.service >/dev/null || true
    deb-systemd-helper unmask runner.service >/dev/null || true
  fi
  # The runner's state: queues, builds, caches; and what it keeps beside config.toml, as GitLab
  # Runner does (its system ID, the records of its processes). Nothing else of /etc/runner: dpkg
  # removes the directory after this script, unless someone put a file of their own there
  # (a TLS key, a web config), which stays, and dpkg says so.
  rm -rf /var/lib/runner /etc/runner/${SYSTEM_ID_FILE} /etc/runner/${PROCESS_RECORDS_DIR}
  # The jobs' user. Without cron, deluser says on stderr that it skips the user's crontab: there
  # is none to remove then, so that line goes; any other it prints is shown.
  if getent passwd runner >/dev/null && command -v deluser >/dev/null; then
    { LC_ALL=C deluser --quiet --system runner 2>&1 >/dev/null || true; } | { grep -v 'Skipping crontab removal' >&2 || true; }
  fi
fi
`;

// Node.js links zlib into its binary (as it does OpenSSL and the rest of its dependencies): a
// single executable carries Node as it is built, and cannot use the system's zlib.
const LINTIAN_OVERRIDES = `# /usr/bin/runner is Node.js with the runner injected (a single executable application);
# Node.js links zlib statically and the executable cannot use the system's.
${DEBIAN_PACKAGE_NAME}: embedded-library zlib [usr/bin/runner]
`;

/** A manual page holding `runner --help`, in man(7) markup. */
function manualPage(info: VersionInfo, help: string): string {
  const escaped = help.trimEnd().split('\n').map((line) => line.replaceAll('\\', '\\e').replace(/^([.'])/, '\\&$1')).join('\n');
  return `.TH RUNNER 1 "" "runner ${info.version}" "User Commands"
.SH NAME
runner \\- CI job agent with Prometheus metrics and pprof profiles
.SH SYNOPSIS
.B runner
.I command
[flags]
.SH DESCRIPTION
.nf
${escaped}
.fi
.SH FILES
/etc/runner/config.toml, /var/lib/runner
.SH SEE ALSO
/usr/share/doc/${DEBIAN_PACKAGE_NAME}/README.md, \\fBrunner run --help\\fR, \\fBrunner submit --help\\fR
`;
}

function changelog(info: VersionInfo): string {
  const date = new Date(info.builtAt === 'unknown' ? Date.now() : info.builtAt).toUTCString().replace(/GMT$/, '+0000');
  return `${DEBIAN_PACKAGE_NAME} (${info.version}) unstable; urgency=medium\n\n  * Release ${info.version} (git ${info.revision}).\n\n -- ${MAINTAINER}  ${date}\n`;
}

function copyright(licenses: string, ownLicense: string): string {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: runner

Files: *
Copyright: 2026 the runner developers
License: MIT
${ownLicense.split('\n').slice(2).map((line) => (line === '' ? ' .' : ` ${line}`)).join('\n')}

Comment: /usr/bin/runner holds Node.js and the npm packages listed in
 /usr/share/doc/${DEBIAN_PACKAGE_NAME}/THIRD-PARTY-LICENSES, under the licenses given there.
 ${licenses.length} bytes of license texts.
`;
}

function write(path: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, mode);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((path) => join(dir, path)).filter((path) => statSync(path).isFile()).sort();
}

export function buildDebianPackage(input: DebianPackageInput): void {
  const tree = join(input.workDir, 'deb');
  const doc = join(tree, 'usr', 'share', 'doc', DEBIAN_PACKAGE_NAME);
  mkdirSync(join(tree, 'usr', 'bin'), { recursive: true });
  copyFileSync(input.executable, join(tree, 'usr', 'bin', 'runner'));
  chmodSync(join(tree, 'usr', 'bin', 'runner'), 0o755);
  write(join(tree, 'lib', 'systemd', 'system', 'runner.service'), packagedUnit(readFileSync(join(input.root, 'deploy', 'systemd', 'runner.service'), 'utf8')));
  // 0644 as Debian ships files; postinst makes it 0600 before anyone can put a token in it.
  write(join(tree, 'etc', 'runner', 'config.toml'), packagedConfig(readFileSync(join(input.root, 'config.toml.example'), 'utf8')));
  write(join(tree, 'usr', 'share', 'man', 'man1', 'runner.1.gz'), gzipSync(manualPage(input.info, input.help), { level: 9 }));
  write(join(tree, 'usr', 'share', 'lintian', 'overrides', DEBIAN_PACKAGE_NAME), LINTIAN_OVERRIDES);
  const ownLicense = readFileSync(join(input.root, 'deploy', 'package', 'LICENSE'), 'utf8');
  write(join(doc, 'copyright'), copyright(input.licenses, ownLicense));
  write(join(doc, 'THIRD-PARTY-LICENSES'), input.licenses);
  write(join(doc, 'changelog.gz'), gzipSync(changelog(input.info), { level: 9 }));
  write(join(doc, 'README.md'), readFileSync(join(input.root, 'docs', 'install.md'), 'utf8'));

  const installedKiB = filesUnder(tree).reduce((sum, path) => sum + Math.ceil(statSync(path).size / 1024), 0);
  const md5sums = filesUnder(tree).map((path) => `${createHash('md5').update(readFileSync(path)).digest('hex')}  ${relative(tree, path)}`).join('\n') + '\n';
  const control = [
    `Package: ${DEBIAN_PACKAGE_NAME}`,
    `Version: ${input.info.version}`,
    `Architecture: ${debianArchitecture()}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKiB}`,
    'Depends: libc6 (>= 2.28), libgcc-s1 (>= 3.4), libstdc++6 (>= 11), adduser',
    'Section: devel',
    'Priority: optional',
    'Description: CI job agent with Prometheus metrics and pprof profiles',
    ' runner runs CI jobs from GitLab (Runner API v4) or a local queue, with the',
    ' shell or docker executor, as GitLab Runner does. Its embedded server shows',
    ' what it does: Prometheus metrics produced through OpenTelemetry,',
    ' Go-compatible /debug/pprof CPU and heap profiles, and a live job list.',
    ' .',
    ' This package holds Node.js and the runner in one executable.',
    '',
  ].join('\n');
  write(join(tree, 'DEBIAN', 'control'), control);
  write(join(tree, 'DEBIAN', 'conffiles'), '/etc/runner/config.toml\n');
  write(join(tree, 'DEBIAN', 'md5sums'), md5sums);
  write(join(tree, 'DEBIAN', 'postinst'), POSTINST, 0o755);
  write(join(tree, 'DEBIAN', 'prerm'), PRERM, 0o755);
  write(join(tree, 'DEBIAN', 'postrm'), POSTRM, 0o755);
  runCommand('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, input.output]);
}
