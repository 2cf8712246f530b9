// The bodies of the script stages, as GitLab Runner writes them: every stage
// but prepare_script starts by exporting the job's variables (file variables
// written to the job's temporary directory first) and the lines a job added
// to $GITLAB_ENV, then `cd`s into the project directory; each command is
// announced as `$ command` in green before it runs.
import type { JobVariable } from '../../job/model.ts';
import { fileVariablePath } from '../job-variables.ts';
import type { JobSettings } from '../settings.ts';
import { clearGitCredentials } from './git-auth.ts';
import { noticeText, ScriptBody } from './writer.ts';

/** The file a job may write `KEY=value` lines to, exported to its later stages (GitLab's GITLAB_ENV). */
export function gitlabEnvFile(tempDir: string): string {
  return `${tempDir}/gitlab_runner_env`;
}

/** Exports every variable in order (the last definition wins in the shell as in the list). */
/**
 * `readEnvFile` false: $GITLAB_ENV is created but not read back, for a stage on the runner's host
 * whose temporary directory a job's container could write.
 */
export function writeExports(body: ScriptBody, variables: readonly JobVariable[], tempDir: string, writeFiles = true, readEnvFile = true): void {
  for (const variable of variables) {
    if (variable.file) {
      const path = fileVariablePath(tempDir, variable.key);
      if (writeFiles) {
        body.command('mkdir', '-p', tempDir);
        // 0600 whatever the umask: a file variable may hold a secret (GitLab Runner leaves the umask's mode).
        body.line(`(umask 077 && printf '%s' ${body.quote(variable.value)} > ${body.quote(path)})`);
      }
      body.export(variable.key, path);
    } else {
      body.export(variable.key, variable.value);
    }
  }
  const envFile = gitlabEnvFile(tempDir);
  body.export('GITLAB_ENV', envFile);
  body.command('mkdir', '-p', tempDir);
  body.command('touch', envFile);
  if (readEnvFile) body.line(`while read -r line; do export "$line"; done < ${body.quote(envFile)}`);
}

/** The line a command is announced with in the log: `$ command` in bold green (a multi-line command by its first line). */
export function commandEcho(command: string): string {
  const lines = command.trim().split('\n');
  return noticeText(lines.length > 1 ? `$ ${lines[0]} # collapsed multi-line command` : `$ ${lines[0]}`);
}

/**
 * Announces and runs each command: `$ command`, a multi-line one by its first
 * line (GitLab's collapsed form) or, with SECTIONS (FF_SCRIPT_SECTIONS on a
 * coordinator that reads sections), whole as a collapsed section named
 * `section_<sections>_<index>`.
 */
export function writeCommands(body: ScriptBody, commands: readonly string[], sections?: string): void {
  for (const [i, command] of commands.entries()) {
    const text = command.trim();
    if (text === '') {
      body.emptyLine();
      continue;
    }
    if (sections !== undefined && text.includes('\n')) body.section(`${sections}_${i}`, `$ ${text}`, ['hide_duration=true', 'collapsed=true']);
    else body.plain(commandEcho(text));
    body.userCommand(text);
  }
}

/**
 * prepare_script: where the job runs; nothing exported yet. `via`: the runner's own host, for an
 * executor whose jobs run elsewhere (GitLab's `Running on CONTAINER via HOST...`).
 */
export function prepareBody(body: ScriptBody, tempDir: string, via?: string): void {
  body.line(via === undefined ? 'echo "Running on $(hostname)..."' : `echo "Running on $(hostname) via "${body.quote(`${via}...`)}`);
  body.command('rm', '-f', gitlabEnvFile(tempDir));
}

export interface StepParts {
  readonly variables: readonly JobVariable[];
  readonly tempDir: string;
  readonly projectDir: string;
  /** FF_SCRIPT_SECTIONS on a coordinator that reads sections: multi-line commands shown whole in collapsed sections. */
  readonly scriptSections?: boolean;
}

/** A script step (step_script, step_<name>): the runner's pre_build_script, the step's commands, its post_build_script. */
export function stepBody(
  body: ScriptBody,
  parts: StepParts,
  commands: readonly string[],
  around: { pre?: string | undefined; post?: string | undefined },
): void {
  writeExports(body, parts.variables, parts.tempDir);
  body.command('cd', parts.projectDir);
  const sections = (prefix: string): string | undefined => (parts.scriptSections ? prefix : undefined);
  if (around.pre) writeCommands(body, [around.pre], sections('pre_build_script'));
  writeCommands(body, commands, sections('script_step'));
  if (around.post) writeCommands(body, [around.post], sections('post_build_script'));
}

export function afterScriptBody(body: ScriptBody, parts: StepParts, commands: readonly string[]): void {
  writeExports(body, parts.variables, parts.tempDir);
  body.command('cd', parts.projectDir);
  body.notice('Running after script...');
  writeCommands(body, commands, parts.scriptSections ? 'after_script_step' : undefined);
}

/**
 * The cleanup stage's script, with the job's variables exported as in every
 * stage (file variables as their paths only: their files are not written
 * again): git's credential helpers told to forget the job token for
 * CREDENTIAL_ORIGIN, then with JOB_CLEANUP (FF_ENABLE_JOB_CLEANUP) the kept
 * project directory made clean.
 */
export function cleanupBody(
  body: ScriptBody,
  parts: StepParts,
  settings: JobSettings,
  what: { readonly credentialOrigin: string | undefined; readonly jobCleanup: boolean },
): void {
  writeExports(body, parts.variables, parts.tempDir, false);
  if (what.credentialOrigin !== undefined) clearGitCredentials(body, what.credentialOrigin);
  if (what.jobCleanup) projectCleanup(body, parts.projectDir, settings);
}

/**
 * FF_ENABLE_JOB_CLEANUP: the project directory removed for the clone and
 * empty strategies, `git clean` and `git reset --hard` (in submodules too)
 * for fetch, left as it is for none.
 */
function projectCleanup(body: ScriptBody, projectDir: string, settings: JobSettings): void {
  if (settings.gitStrategy === 'clone' || settings.gitStrategy === 'empty') {
    body.ifTest(`-d ${body.quote(projectDir)}`, () => body.command('chmod', '-R', 'u+rwX', projectDir));
    body.command('rm', '-r', '-f', projectDir);
    return;
  }
  if (settings.gitStrategy === 'none') {
    body.notice('Skipping build directory cleanup step');
    return;
  }
  body.ifTest(`-d ${body.quote(`${projectDir}/.git`)}`, () => {
    body.command('cd', projectDir);
    const clean = settings.cleanFlags.length > 0 ? ['clean', ...settings.cleanFlags] : [];
    if (clean.length > 0) body.command('git', ...clean);
    body.command('git', 'reset', '--hard');
    if (settings.submoduleStrategy === 'normal' || settings.submoduleStrategy === 'recursive') {
      const foreach = ['submodule', 'foreach', ...(settings.submoduleStrategy === 'recursive' ? ['--recursive'] : [])];
      if (clean.length > 0) body.command('git', ...foreach, 'git', ...clean);
      body.command('git', ...foreach, 'git', 'reset', '--hard');
    }
  });
}
