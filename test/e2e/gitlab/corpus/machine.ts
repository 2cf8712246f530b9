// The CI machine the corpus jobs run on: a Debian box with bash, coreutils,
// git, make, gettext and a C++ compiler, whose runner user's ~/.bash_profile
// puts a directory of offline stand-ins on PATH for the tools the real jobs
// install or reach over the network (docker, mage, ccache, pybabel, hugo, a
// pip-installed fdroid). Stages run in login shells (`bash -l`) under GitLab
// Runner's shell executor as under this runner, so both read it; run-corpus.ts
// checks that they do before it runs any corpus job. (Package installs in the
// jobs are made no-ops in their YAML: they never reach the machine.)
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Machine } from './gitlab-stages.ts';

/** The stand-ins: what each prints is part of the expected logs. */
const STUBS: Readonly<Record<string, string>> = {
  'docker': [
    '#!/bin/sh',
    'case "$1" in',
    '  login) cat >/dev/null; echo "Login Succeeded" ;;',
    '  *) echo "[offline docker] $*" ;;',
    'esac',
    '',
  ].join('\n'),
  'mage': '#!/bin/sh\necho "[offline mage] $*"\n',
  // python3-babel's pybabel, on the corpus's one translation: it finds the broken placeholder.
  'pybabel': '#!/bin/sh\necho "error: locale/de/LC_MESSAGES/fdroidserver.po:13: positional format placeholders are unbalanced" >&2\nexit 1\n',
  'ccache': '#!/bin/sh\n[ "$1" = --zero-stats ] && echo "Statistics zeroed"\nexit 0\n',
  'hugo': [
    '#!/bin/sh',
    '[ -f themes/ananke/theme.toml ] || { echo \'Error: module "ananke" not found\' >&2; exit 1; }',
    'mkdir -p public && cp themes/ananke/layouts/index.html public/index.html',
    'echo "Start building sites … "',
    'echo "hugo v0.125.4 (offline stand-in) linux/amd64"',
    'echo',
    'echo "Total in 3 ms"',
    '',
  ].join('\n'),
  // fdroidserver as pip installs it: its help, in German when asked.
  'fdroid': [
    '#!/bin/sh',
    'case "$LANGUAGE" in',
    "  de*) echo 'Verwendung: fdroid [-h|--help|--version] <Befehl> [<Argumente>]'; echo; echo 'Gültige Befehle sind:' ;;",
    "  *) echo 'usage: fdroid [-h|--help|--version] <command> [<args>]'; echo; echo 'Valid commands are:' ;;",
    'esac',
    "echo '   build          Build a package from source'",
    '',
  ].join('\n'),
};

/** The stand-ins' names: a job shell must find each of them in `bin`. */
export const STAND_INS: readonly string[] = Object.keys(STUBS);

export interface CorpusMachine extends Machine {
  /** HOME of the runner process (its ~/.bash_profile adds the stand-ins to PATH). */
  readonly home: string;
  readonly root: string;
  /** The directory of the stand-ins. */
  readonly bin: string;
}

/** Makes the machine's HOME and stand-ins under a new temporary directory. */
export function createMachine(): CorpusMachine {
  const root = mkdtempSync(join(tmpdir(), 'runner-corpus-'));
  const home = join(root, 'home');
  const bin = join(root, 'ci-tools');
  mkdirSync(home);
  mkdirSync(bin);
  for (const [name, text] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(home, '.bash_profile'), `export PATH="${bin}:$PATH"\n`);
  const hostname = execFileSync('hostname', { encoding: 'utf8' }).trim();
  const gitLfs = spawnSync('git', ['lfs', 'version'], { stdio: 'ignore' }).status === 0;
  return { root, home, bin, hostname, gitLfs };
}
