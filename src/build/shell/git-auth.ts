// How git gets the job token, as GitLab Runner's default (authenticated)
// mode gives it (helpers/url/gitauth.go): git is handed the repository URL
// without credentials, and `url.<with token>.insteadOf <without>` rewrites,
// written to a git config file in the job's temporary directory, put the
// token back for
//   1. the repository itself,
//   2. anything under the coordinator's URL (the runner's `url`: other
//      projects of the instance, submodules by absolute URL),
//   3. with GIT_SUBMODULE_FORCE_HTTPS, ssh URLs of the instance
//      (`git@host:` and `ssh://git@host[:port]`), fetched over https instead,
//   4. the repository URL's own host, for submodules on it.
// A local job's repository has no coordinator: only 1 and 4 apply.
import type { ScriptBody } from './writer.ts';

const JOB_TOKEN_USER = 'gitlab-ci-token';

/**
 * Tells git's credential helpers of the user's (store, cache) to forget the
 * job token for ORIGIN, best effort, as GitLab Runner does at the end of
 * get_sources and again in the cleanup stage of every job.
 */
export function clearGitCredentials(body: ScriptBody, origin: string): void {
  body.line(`echo ${body.quote(`url=${origin}\nusername=${JOB_TOKEN_USER}`)} | git credential reject || true`);
}

export interface GitAuthInput {
  /** The repository URL as the source sent it (GitLab's repo_url carries the job token). */
  readonly repositoryUrl: string;
  /** The runner's coordinator URL (GitLab's credentials URL); undefined for a runner without one. */
  readonly coordinatorUrl: string | undefined;
  /** GIT_SUBMODULE_FORCE_HTTPS. */
  readonly forceHttps: boolean;
  /** CI_SERVER_SHELL_SSH_HOST, else CI_SERVER_HOST. */
  readonly sshHost: string;
  /** CI_SERVER_SHELL_SSH_PORT. */
  readonly sshPort: string;
  /** CI_JOB_TOKEN, used where the repository URL carries no token of its own; '' for none. */
  readonly jobToken: string;
}

export interface GitAuth {
  /** The URL git is given: the repository's, without credentials. */
  readonly remote: string;
  /** [with credentials, without], in GitLab Runner's order, without repeats. */
  readonly rewrites: ReadonlyArray<readonly [withCredentials: string, without: string]>;
  /** scheme://host of an http(s) repository (its credential helpers are told to forget the token). */
  readonly origin: string | undefined;
}

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

const isHttp = (url: URL | undefined): url is URL => url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:');

/** Go's url.String() without the trailing slashes GitLab Runner trims. */
const trimmed = (url: URL): string => url.href.replace(/\/+$/, '');

function withUser(url: URL, user: string, password: string): URL {
  const copy = new URL(url.href);
  copy.username = user;
  copy.password = password;
  return copy;
}

export function gitAuth(input: GitAuthInput): GitAuth {
  const repository = parse(input.repositoryUrl);
  const http = isHttp(repository);
  const remote = http ? withUser(repository, '', '').href : input.repositoryUrl;
  const origin = http ? `${repository.protocol}//${repository.host}` : undefined;
  const rewrites: Array<readonly [string, string]> = [];
  if (remote !== input.repositoryUrl) rewrites.push([input.repositoryUrl, remote]);
  const fromUrl = http && repository.username === JOB_TOKEN_USER ? decodeURIComponent(repository.password) : '';
  const token = fromUrl || input.jobToken;

  const coordinator = parse(input.coordinatorUrl ?? '');
  if (token !== '' && isHttp(coordinator)) {
    const authedBase = trimmed(withUser(coordinator, JOB_TOKEN_USER, token));
    rewrites.push([authedBase, trimmed(withUser(coordinator, '', ''))]);
    if (input.forceHttps) {
      const host = input.sshHost;
      if (input.sshPort === '' || input.sshPort === '22') {
        rewrites.push([`${authedBase}/`, `git@${host}:`], [authedBase, `ssh://git@${host}`]);
      } else {
        rewrites.push([authedBase, `ssh://git@${host}:${input.sshPort}`]);
      }
    }
  }
  if (http) {
    const base = new URL(origin!);
    if (token !== '' && input.coordinatorUrl !== undefined) {
      rewrites.push([trimmed(withUser(base, JOB_TOKEN_USER, token)), trimmed(base)]);
    } else if (input.coordinatorUrl === undefined && (repository.username !== '' || repository.password !== '')) {
      // A local job's repository URL with credentials: submodules on its host get them too.
      rewrites.push([trimmed(withUser(base, decodeURIComponent(repository.username), decodeURIComponent(repository.password))), trimmed(base)]);
    }
  }
  const seen = new Set<string>();
  const unique = rewrites.filter(([a, b]) => {
    const key = `${a}\n${b}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { remote, rewrites: unique, origin };
}
