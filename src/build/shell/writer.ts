// Writes a stage's script the way GitLab Runner's bash writer shapes it, so a
// job sees the same shell semantics under this runner: the body (exports,
// `cd`, each command announced in green and then run) is quoted whole and
// run by `eval` in a subshell whose stdin is /dev/null, under errexit and
// (where the shell has it) pipefail. The script itself goes to `bash -l` on
// stdin, which is why a failing command is reported as `bash: line N: ...`.
import type { ShellKind } from '../../job/executor.ts';
import { doubleQuote, quoteFor } from './escape.ts';

export const ANSI = {
  boldGreen: '\x1b[32;1m',
  boldCyan: '\x1b[36;1m',
  boldRed: '\x1b[31;1m',
  boldYellow: '\x1b[33;1m',
  yellow: '\x1b[0;33m',
  reset: '\x1b[0;m',
  clearLine: '\x1b[0K',
} as const;

export interface WriterOptions {
  /** FF_ENABLE_BASH_EXIT_CODE_CHECK: an explicit exit-code check after every command. */
  readonly exitCodeCheck?: boolean;
}

/** A notice as the log shows it: bold green. */
export function noticeText(text: string): string {
  return `${ANSI.boldGreen}${text}${ANSI.reset}`;
}

/** A stage script's body, line by line, nested blocks indented by two spaces. */
export class ScriptBody {
  private readonly lines: string[] = [];
  private depth = 0;
  readonly quote: (text: string) => string;

  constructor(readonly shell: ShellKind, private readonly options: WriterOptions = {}) {
    this.quote = quoteFor(shell);
  }

  line(text: string): void {
    this.lines.push(`${'  '.repeat(this.depth)}${text}`);
  }

  /** Appends lines verbatim (a user's command, which may span several). */
  raw(text: string): void {
    for (const line of text.split('\n')) this.lines.push(line);
  }

  private checkExitCode(): void {
    if (this.options.exitCodeCheck) this.line('_runner_exit_code=$?; if [ $_runner_exit_code -ne 0 ]; then exit $_runner_exit_code; fi');
  }

  /** A command whose every word is quoted: nothing in it is expanded by the shell. */
  command(name: string, ...args: readonly string[]): void {
    this.line([name, ...args].map(this.quote).join(' '));
    this.checkExitCode();
  }

  /** A command whose arguments are double-quoted, so the shell expands the variables in them. */
  commandExpanding(name: string, ...args: readonly string[]): void {
    this.line([this.quote(name), ...args.map(doubleQuote)].join(' '));
    this.checkExitCode();
  }

  /** A user's command (or hook line), verbatim. */
  userCommand(text: string): void {
    this.raw(text);
    this.checkExitCode();
  }

  private say(text: string): void {
    this.line(this.shell === 'bash' ? `echo ${this.quote(text)}` : `printf '%s\\n' ${this.quote(text)}`);
  }

  /** A green line in the log (GitLab's notice). */
  notice(text: string): void {
    this.say(noticeText(text));
  }

  /** A yellow line in the log. */
  warning(text: string): void {
    this.say(`${ANSI.yellow}${text}${ANSI.reset}`);
  }

  /** A line as is. */
  plain(text: string): void {
    this.say(text);
  }

  emptyLine(): void {
    this.line('echo');
  }

  /**
   * A collapsible section of the log whose title is TEXT in green, opened
   * and at once closed (GitLab's SectionStart/SectionEnd in a script). As
   * GitLab's writer does, the line goes through `printf '%b'`, so a
   * backslash escape in TEXT is read there too.
   */
  section(id: string, text: string, options: readonly string[]): void {
    const name = `section_${id}${options.length > 0 ? `[${options.join(',')}]` : ''}`;
    this.line(`printf '%b\\n' section_start:"$(date +%s)"${this.quote(`:${name}\r${ANSI.clearLine}${noticeText(text)}`)}`);
    this.line(`printf '%b\\n' section_end:"$(date +%s)"${this.quote(`:section_${id}\r${ANSI.clearLine}`)}`);
  }

  export(key: string, value: string): void {
    this.line(`export ${this.quote(key)}=${this.quote(value)}`);
  }

  /** `if CONDITION >/dev/null 2>&1 ; then` ... [`else` ...] `fi`. */
  ifCommand(condition: string, then: () => void, otherwise?: () => void): void {
    this.block(`if ${condition} >/dev/null 2>&1 ; then`, then, otherwise);
  }

  /** `if CONDITION ; then` ... with the condition's output in the log. */
  ifCommandShowing(condition: string, then: () => void, otherwise?: () => void): void {
    this.block(`if ${condition} ; then`, then, otherwise);
  }

  /** `if [ TEST ]; then` ... `fi`. */
  ifTest(test: string, then: () => void, otherwise?: () => void): void {
    this.block(`if [ ${test} ]; then`, then, otherwise);
  }

  private block(head: string, then: () => void, otherwise?: () => void): void {
    this.line(head);
    this.depth++;
    then();
    this.depth--;
    if (otherwise) {
      this.line('else');
      this.depth++;
      otherwise();
      this.depth--;
    }
    this.line('fi');
  }

  toString(): string {
    return this.lines.map((line) => `${line}\n`).join('');
  }
}

export interface ScriptOptions {
  /** CI_DEBUG_TRACE: `set -o xtrace`. */
  readonly xtrace?: boolean;
  /** FF_USE_LEGACY_BASH_EVAL: `: | eval` instead of the subshell with stdin from /dev/null. */
  readonly legacyEval?: boolean;
}

/** The whole script of a stage around its body. */
export function stageScript(body: ScriptBody, options: ScriptOptions = {}): string {
  const quoted = body.quote(body.toString());
  return [
    `#!/usr/bin/env ${body.shell}`,
    '',
    "trap 'exit 1' TERM",
    '',
    ...(options.xtrace ? ['set -o xtrace'] : []),
    'case "$(set -o)" in *"pipefail"*) set -o pipefail;; esac; set -o errexit',
    'set +o noclobber',
    options.legacyEval ? `: | eval ${quoted}` : `(trap 'exit 1' TERM; eval ${quoted}) < /dev/null`,
    'exit 0',
    '',
  ].join('\n');
}
