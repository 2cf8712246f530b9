// The scripts of a job's stages, for the shell the executor runs them in
// (GitLab Runner's shells/ role): how each command is announced in the log,
// and how sources are fetched.
//
// bash runs with `set -eo pipefail`, sh with `set -e`. A step's script
// writes each command as `$ command` before running it (a multi-line command
// as its first line and `# collapsed multi-line command`, as GitLab does), and
// sends stderr into stdout (`exec 2>&1`) so the log has both in the order the
// job wrote them.
import { Buffer } from 'node:buffer';
import type { ShellKind } from '../job/executor.ts';
import type { JobRepository } from '../job/model.ts';

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The line a command is announced with in the log (GitLab's form). */
export function echoLine(command: string): string {
  const lines = command.trim().split('\n');
  return lines.length > 1 ? `$ ${lines[0]} # collapsed multi-line command` : `$ ${lines[0]}`;
}

function preamble(kind: ShellKind): string[] {
  return ['exec 2>&1', kind === 'bash' ? 'set -eo pipefail' : 'set -e'];
}

/** A step's script: each command announced, then run; the first failure ends it. */
export function stepScript(kind: ShellKind, commands: readonly string[]): string {
  const lines = preamble(kind);
  for (const command of commands) {
    lines.push(`command printf '%s\\n' ${shellQuote(echoLine(command))}`, command);
  }
  return lines.join('\n') + '\n';
}

/** A repository URL split into the URL git is given and the credentials it carried (a job token). */
export function splitCredentials(url: string): { url: string; authorization: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, authorization: undefined }; // a path or scp-like address: nothing to take out
  }
  if (parsed.username === '' && parsed.password === '') return { url, authorization: undefined };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/**
 * get_sources for a job that names a repository: GitLab's GIT_STRATEGY
 * (fetch, the default, reuses a kept checkout; clone starts from an empty
 * directory), GIT_DEPTH (a positive number: shallow; 0 or unset: full) and
 * GIT_CHECKOUT (false: fetch only), read from the job's environment at run
 * time. Credentials in the URL (a coordinator's job token) never reach git's
 * command line or .git/config: git gets them as an Authorization header
 * through GIT_CONFIG_* variables of this script's own environment.
 */
export function sourcesScript(kind: ShellKind, repository: JobRepository): string {
  const refspecs = repository.refspecs?.length ? repository.refspecs : [repository.ref ?? 'HEAD'];
  const target = repository.sha ?? 'FETCH_HEAD';
  const { url, authorization } = splitCredentials(repository.url);
  return [
    ...preamble(kind),
    ...(authorization === undefined ? [] : [
      `export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0=${shellQuote(`Authorization: ${authorization}`)}`,
    ]),
    // A private CA of the coordinator (the runner's tls-ca-file) for git over https.
    'if [ -n "${CI_SERVER_TLS_CA_FILE:-}" ]; then export GIT_SSL_CAINFO="$CI_SERVER_TLS_CA_FILE"; fi',
    'depth=; case "${GIT_DEPTH:-}" in ""|0|*[!0-9]*) ;; *) depth="--depth=$GIT_DEPTH" ;; esac',
    'if [ "${GIT_STRATEGY:-fetch}" = clone ]; then find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi',
    'if [ -d .git ]; then echo "Fetching changes..."; else echo "Cloning repository..."; git init -q .; fi',
    'git remote remove origin 2>/dev/null || true',
    `git remote add origin ${shellQuote(url)}`,
    `git fetch -q --prune $depth origin ${refspecs.map(shellQuote).join(' ')}`,
    'if [ "${GIT_CHECKOUT:-true}" = false ]; then echo "Skipping Git checkout"; exit 0; fi',
    `git checkout -q -f ${shellQuote(target)}`,
    'git clean -q -ffdx',
    'printf "Checked out %s\\n" "$(git rev-parse --short HEAD)"',
  ].join('\n') + '\n';
}
