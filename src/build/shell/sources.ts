// get_sources as GitLab Runner's shell writer does it: the job's git strategy
// (fetch into the kept checkout, clone afresh, none, empty), GIT_DEPTH as the
// coordinator sent it, GIT_FETCH_EXTRA_FLAGS, GIT_CHECKOUT, GIT_CLEAN_FLAGS,
// Git LFS, submodules (with the job token for relative URLs), and the hooks
// around it. The job token never reaches a command line or the
// repository's .git/config: a git config file in the job's temporary
// directory (removed after the job) rewrites the credential-free URLs to
// ones with the token, and .git/config only includes that file.
import type { JobRepository } from '../../job/model.ts';
import type { JobSettings } from '../settings.ts';
import { writeCommands, writeExports } from './stage-scripts.ts';
import { clearGitCredentials, type GitAuth, gitAuth } from './git-auth.ts';
import { doubleQuote } from './escape.ts';
import type { ScriptBody } from './writer.ts';
import type { JobVariable } from '../../job/model.ts';

export interface SourcesPlan {
  readonly repository: JobRepository;
  readonly settings: JobSettings;
  readonly variables: readonly JobVariable[];
  readonly projectDir: string;
  readonly tempDir: string;
  /** Commands around the fetch: the runner's configuration, then the job's hooks (pre), the other way round after. */
  readonly hooks: { readonly pre: readonly string[]; readonly post: readonly string[] };
  /** `http.userAgent` of git's fetches. */
  readonly userAgent: string;
  /** Sent to git as X-Gitaly-Correlation-ID (FF_USE_GITALY_CORRELATION_ID); undefined: none. */
  readonly correlationId: string | undefined;
  /** FF_USE_GIT_BUNDLE_URIS. */
  readonly bundleUris: boolean;
  /** The job has CI_SERVER_TLS_CA_FILE: git trusts it for the repository's host. */
  readonly caFile: boolean;
  /** The runner's coordinator URL, whose projects git reaches with the job token; undefined for none. */
  readonly coordinatorUrl: string | undefined;
  /** FF_SCRIPT_SECTIONS on a coordinator that reads sections: multi-line hook commands in collapsed sections. */
  readonly scriptSections?: boolean;
  /**
   * The project directory is writable by the job's own code outside this script (a container
   * shares it with a stage on the runner's host): no $GITLAB_ENV is read, and a .git found there
   * is removed before the fetch, so that git runs no configuration the job planted.
   */
  readonly sharedWithJob?: boolean;
}

/** Why get_sources could not be written (GitLab Runner fails the job as a system failure). */
export class SourcesScriptError extends Error {
  override name = 'SourcesScriptError';
}

const EXT_CONFIG = '.gitlab-runner.ext.conf';

/** TEXT escaped for a double-quoted git config value or subsection name. */
function gitConfigString(text: string): string {
  return text.replace(/[\\"]/g, '\\$&');
}

export function sourcesBody(body: ScriptBody, plan: SourcesPlan): void {
  const { settings, projectDir: project, tempDir: temp } = plan;
  writeExports(body, plan.variables, temp, true, plan.sharedWithJob !== true);
  body.export('GIT_TERMINAL_PROMPT', '0');
  body.export('GCM_INTERACTIVE', 'Never');
  const fetching = settings.gitStrategy === 'fetch' || settings.gitStrategy === 'clone';
  const sections = (prefix: string): string | undefined => (plan.scriptSections ? prefix : undefined);
  if (fetching && plan.hooks.pre.length > 0) writeCommands(body, plan.hooks.pre, sections('pre_clone_script'));
  if (!settings.lfsSkipSmudge) body.export('GIT_LFS_SKIP_SMUDGE', '1');

  const { remote, rewrites, origin } = sourcesAuth(plan);
  if (settings.gitStrategy === 'none') {
    body.notice('Skipping Git repository setup');
    body.command('mkdir', '-p', project);
    body.notice('Skipping Git checkout');
  } else if (settings.gitStrategy === 'empty') {
    body.notice('Skipping Git repository setup and creating an empty build directory');
    removeDirectory(body, project);
    body.command('mkdir', '-p', project);
    // GitLab Runner never checks out without a repository, and says so.
    body.notice('Skipping Git checkout');
  } else {
    fetchSources(body, plan, remote, rewrites, origin);
  }

  const submodules = settings.gitStrategy === 'none' || settings.gitStrategy === 'empty' ? 'none' : settings.submoduleStrategy;
  if (submodules === 'invalid') throw new SourcesScriptError('unknown GIT_SUBMODULE_STRATEGY');
  if (submodules === 'none') body.notice('Skipping Git submodules setup');
  else updateSubmodules(body, settings, submodules === 'recursive');

  if (fetching && plan.hooks.post.length > 0) writeCommands(body, plan.hooks.post, sections('post_clone_script'));
  if (origin !== undefined) clearGitCredentials(body, origin);
}

/** How git gets the job token for this job's repository. */
export function sourcesAuth(plan: SourcesPlan): GitAuth {
  const valueOf = (key: string): string => plan.variables.findLast((v) => v.key === key)?.value ?? '';
  return gitAuth({
    repositoryUrl: plan.repository.url,
    coordinatorUrl: plan.coordinatorUrl,
    forceHttps: plan.settings.submoduleForceHttps,
    sshHost: valueOf('CI_SERVER_SHELL_SSH_HOST') || valueOf('CI_SERVER_HOST'),
    sshPort: valueOf('CI_SERVER_SHELL_SSH_PORT'),
    jobToken: valueOf('CI_JOB_TOKEN'),
  });
}

function removeDirectory(body: ScriptBody, dir: string): void {
  body.ifTest(`-d ${body.quote(dir)}`, () => body.command('chmod', '-R', 'u+rwX', dir));
  body.command('rm', '-r', '-f', dir);
}

function fetchSources(body: ScriptBody, plan: SourcesPlan, remote: string, rewrites: GitAuth['rewrites'], origin: string | undefined): void {
  const { settings, projectDir: project, tempDir: temp, repository } = plan;
  const q = body.quote;
  // What an interrupted git left behind would stop this one.
  for (const lock of ['index.lock', 'shallow.lock', 'HEAD.lock', 'hooks/post-checkout', 'config.lock']) body.command('rm', '-f', `${project}/.git/${lock}`);
  body.ifTest(`-d ${q(`${project}/.git/refs`)}`, () => body.line(`find ${q(`${project}/.git/refs`)} -name '*.lock' -type f -exec rm -f {} +`));
  if (settings.gitStrategy === 'clone') removeDirectory(body, project);
  else if (plan.sharedWithJob === true) body.command('rm', '-r', '-f', `${project}/.git`);

  const template = `${temp}/git-template`;
  const ext = `${temp}/${EXT_CONFIG}`;
  body.command('mkdir', '-p', template);
  for (
    const [key, value] of [['init.defaultBranch', 'none'], ['fetch.recurseSubmodules', 'false'], ['credential.interactive', 'never'], [
      'gc.autoDetach',
      'false',
    ]]
  ) {
    body.command('git', 'config', '-f', `${template}/config`, key!, value!);
  }
  // Made empty and private before anything goes in (git config keeps a file's mode): the job token lands in it, and a
  // runner killed mid-job leaves it behind until its next start.
  body.line(`(umask 077 && : > ${q(ext)})`);
  if (plan.correlationId !== undefined) {
    body.command('git', 'config', '-f', ext, 'http.extraHeader', `X-Gitaly-Correlation-ID: ${plan.correlationId}`);
    body.notice(`Gitaly correlation ID: ${plan.correlationId}`);
  }
  if (plan.bundleUris) body.command('git', 'config', '-f', ext, 'transfer.bundleURI', 'true');
  if (plan.caFile && origin !== undefined && origin.startsWith('https:')) {
    body.line(`git config -f ${q(ext)} ${q(`http.${origin}.sslCAInfo`)} "$CI_SERVER_TLS_CA_FILE"`);
  }
  for (const [withCredentials, without] of rewrites) {
    // Appended by printf, a builtin of the shell, where GitLab Runner runs `git config`: the URL with the
    // token is never a process's argument, which any local user could read in `ps`. The rewrites are unique.
    body.line(`printf '[url "%s"]\\n\\tinsteadOf = "%s"\\n' ${q(gitConfigString(withCredentials))} ${q(gitConfigString(without))} >> ${q(ext)}`);
  }
  body.command('git', 'config', '--file', `${template}/config`, '--replace-all', 'include.path', ext, '\\.gitlab-runner\\.ext\\.conf$');
  body.export('GLR_EXT_GIT_CONFIG_PATH', ext);

  const depth = repository.depth ?? 0;
  body.notice(depth > 0 ? `Fetching changes with git depth set to ${depth}...` : 'Fetching changes...');
  body.command('git', 'init', project, '--template', template);
  body.command('cd', project);
  body.ifCommand(`git remote add origin ${q(remote)}`, () => body.notice('Created fresh repository.'), () => {
    body.command('git', 'remote', 'set-url', 'origin', remote);
    body.line(`git config --file .git/config --replace-all include.path "$GLR_EXT_GIT_CONFIG_PATH" ${q('\\.gitlab-runner\\.ext\\.conf$')}`);
  });
  const refspecs = repository.refspecs?.length ? repository.refspecs : [repository.ref ?? 'HEAD'];
  const fetch = ['-c', `http.userAgent=${plan.userAgent}`, 'fetch', 'origin', '--no-recurse-submodules', ...refspecs];
  if (depth > 0) {
    body.command('git', ...fetch, '--depth', String(depth), ...settings.fetchFlags);
  } else {
    body.ifTest(
      '-e ".git/shallow"',
      () => body.command('git', ...fetch, ...settings.fetchFlags, '--unshallow'),
      () => body.command('git', ...fetch, ...settings.fetchFlags),
    );
  }

  if (!settings.gitCheckout) {
    body.notice('Skipping Git checkout');
    return;
  }
  const target = repository.sha ?? 'FETCH_HEAD';
  const shown = repository.sha?.slice(0, 8) ?? target;
  body.notice(`Checking out ${shown} as detached HEAD (ref is ${repository.ref ?? 'HEAD'})...`);
  body.command('git', '-c', 'submodule.recurse=false', 'checkout', '-f', '-q', target);
  if (settings.cleanFlags.length > 0) body.command('git', 'clean', ...settings.cleanFlags);
  if (!settings.lfsSkipSmudge) {
    body.ifCommand('git lfs version', () => {
      body.command('git', 'lfs', 'pull');
      body.emptyLine();
    });
  }
}

/** Go's %q of a string slice, as GitLab Runner's error messages show one: ["a" "b"]. */
function goQuotedList(items: readonly string[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(' ')}]`;
}

function updateSubmodules(body: ScriptBody, settings: JobSettings, recursive: boolean): void {
  // `:(exclude)` alone (a space after it) would exclude nothing and select everything: GitLab Runner refuses it.
  if (settings.submodulePaths.includes(':(exclude)')) {
    throw new SourcesScriptError(`GIT_SUBMODULE_PATHS: invalid submodule pathspec ${goQuotedList(settings.submodulePaths)}`);
  }
  const depth = settings.submoduleDepth;
  const how = `${recursive ? ' recursively' : ''}${depth > 0 ? ` with git depth set to ${depth}` : ''}`;
  body.notice(`Updating/initializing submodules${how}...`);
  const paths = settings.submodulePaths.length > 0 ? ['--', ...settings.submodulePaths] : [];
  const r = recursive ? ['--recursive'] : [];
  const sync = ['submodule', 'sync', ...r, ...paths];
  const update = ['submodule', 'update', '--init', ...r, ...(depth > 0 ? ['--depth', String(depth)] : []), ...settings.submoduleUpdateFlags, ...paths];
  const foreach = ['submodule', 'foreach', ...r];
  const clean = ['git', 'clean', ...(settings.cleanFlags.length > 0 ? settings.cleanFlags : ['-ffdx'])];
  // Submodule clones do not read the superproject's .git/config: the credentials' file is included explicitly,
  // through a variable, so these commands' arguments are double-quoted (expanded by the shell) as in GitLab Runner.
  const withCredentials = (args: readonly string[]): string[] => ['-c', 'include.path=$GLR_EXT_GIT_CONFIG_PATH', ...args];

  body.command('git', 'submodule', 'init');
  body.command('git', ...sync);
  body.command('git', ...foreach, ...clean);
  body.command('git', ...foreach, 'git', 'reset', '--hard');
  body.ifCommandShowing([body.quote('git'), ...withCredentials(update).map(doubleQuote)].join(' '), () => {
    body.notice('Updated submodules');
    body.command('git', ...sync);
  }, () => {
    body.warning('Updating submodules failed. Retrying...');
    if (settings.submoduleUpdateFlags.some((flag) => flag.toLowerCase() === '--remote')) {
      body.commandExpanding('git', ...withCredentials([...foreach, 'git', 'fetch', 'origin', '+refs/heads/*:refs/remotes/origin/*']));
    }
    body.command('git', ...sync);
    body.commandExpanding('git', ...withCredentials(update));
    body.command('git', ...foreach, 'git', 'reset', '--hard');
  });
  body.command('git', ...foreach, ...clean);
  body.notice('Configuring submodules to use parent git credentials...');
  body.line(
    `git submodule foreach --recursive git config --replace-all include.path "$GLR_EXT_GIT_CONFIG_PATH" ${body.quote('\\.gitlab-runner\\.ext\\.conf$')}`,
  );
  if (!settings.lfsSkipSmudge) {
    body.ifCommand('git lfs version', () => {
      body.notice('Pulling LFS files...');
      body.commandExpanding('git', ...withCredentials([...foreach, 'git', 'lfs', 'pull']));
    });
  }
}
