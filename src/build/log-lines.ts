// The lines the runner itself writes into a job's log, in GitLab Runner's
// form and colours: the header, stage titles between section markers,
// warnings, and the closing line.
import { formatGoDuration } from '../system/go-duration.ts';
import type { BuildStage } from '../job/result.ts';
import { ANSI } from './shell/writer.ts';

export const line = (text: string): string => `${ANSI.clearLine}${text}${ANSI.reset}\n`;
export const info = (text: string): string => `${ANSI.boldGreen}${text}${ANSI.reset}\n`;
export const warning = (text: string): string => `${ANSI.yellow}WARNING: ${text}${ANSI.reset}\n`;
export const error = (text: string): string => `${ANSI.boldRed}ERROR: ${text}${ANSI.reset}\n`;
export const title = (text: string): string => `${ANSI.clearLine}${ANSI.boldCyan}${text}${ANSI.reset}${ANSI.reset}\n`;

const unixSeconds = (): number => Math.floor(Date.now() / 1000);
export const sectionStart = (name: string): string => `section_start:${unixSeconds()}:${name}\r${ANSI.clearLine}`;
export const sectionEnd = (name: string): string => `section_end:${unixSeconds()}:${name}\r${ANSI.clearLine}`;

/** The title GitLab Runner gives a stage. */
export function stageTitle(stage: BuildStage | 'clear_worktree', executor: string): string {
  switch (stage) {
    case 'prepare_executor':
      return `Preparing the ${JSON.stringify(executor)} executor`;
    case 'prepare_script':
      return 'Preparing environment';
    case 'get_sources':
      return 'Getting source from Git repository';
    case 'clear_worktree':
      return 'Deleting all tracked and untracked files due to source fetch failure';
    case 'restore_cache':
      return 'Restoring cache';
    case 'download_artifacts':
      return 'Downloading artifacts';
    case 'after_script':
      return 'Running after_script';
    case 'archive_cache':
      return 'Saving cache for successful job';
    case 'archive_cache_on_failure':
      return 'Saving cache for failed job';
    case 'upload_artifacts_on_success':
      return 'Uploading artifacts for successful job';
    case 'upload_artifacts_on_failure':
      return 'Uploading artifacts for failed job';
    case 'cleanup_file_variables':
      return 'Cleaning up project directory and file based variables';
    default:
      return `Executing ${JSON.stringify(stage)} stage of the job script`;
  }
}

/** Go's error text for a process that exited by a signal (`signal: killed`). */
const SIGNAL_TEXT: Readonly<Record<string, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGQUIT: 'quit',
  SIGABRT: 'aborted',
  SIGSEGV: 'segmentation fault',
  SIGBUS: 'bus error',
  SIGFPE: 'floating point exception',
  SIGPIPE: 'broken pipe',
  SIGUSR1: 'user defined signal 1',
  SIGUSR2: 'user defined signal 2',
  SIGILL: 'illegal instruction',
  SIGTRAP: 'trace/breakpoint trap',
};

/** How a script's end reads in GitLab's failure line: `exit status 3`, `signal: killed`. */
export function exitText(exitCode: number, signal: string | undefined): string {
  if (signal !== undefined) return `signal: ${SIGNAL_TEXT[signal] ?? signal}`;
  return `exit status ${exitCode}`;
}

/** GitLab's `execution took longer than 1h0m0s seconds` (the duration in Go's form, then "seconds", as it is there). */
export function timeoutText(timeoutSeconds: number): string {
  return `execution took longer than ${formatGoDuration(timeoutSeconds * 1000)} seconds`;
}
