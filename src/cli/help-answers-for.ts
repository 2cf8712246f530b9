// `--version` and the `--help` texts for a given runtime, operating system and architecture,
// from help.ts and the build information alone: what help-answers.ts answers on the runtime it
// runs on, and what the Deno artefact's entry answers from Deno's own globals
// (deploy/package/deno-entry.ts), since anything that touches Node's `process` there costs Deno
// about 25 ms of CPU.
import { versionInfo } from '../version.ts';
import { CANCEL_HELP, LIST_HELP, MAIN_HELP, RUN_HELP, SUBMIT_HELP, VERIFY_HELP } from './help.ts';

/** Exit code of bad usage or bad input (main.ts's other codes: 0 ok, 1 the runner failed). */
export const EXIT_USAGE = 2;

/** Where the runner runs, as `--version` names it (Node's names: linux/x64). */
export interface Platform {
  /** "node 20.20.2" */
  readonly runtime: string;
  readonly os: string;
  readonly arch: string;
}

const COMMAND_HELP: Readonly<Record<string, string>> = {
  run: RUN_HELP,
  submit: SUBMIT_HELP,
  list: LIST_HELP,
  cancel: CANCEL_HELP,
  verify: VERIFY_HELP,
};

export function versionTextFor(platform: Platform): string {
  return [
    `${versionInfo.name} ${versionInfo.version}`,
    `Git revision: ${versionInfo.revision}`,
    `Git branch:   ${versionInfo.branch}`,
    `Built:        ${versionInfo.builtAt}`,
    `Runtime:      ${platform.runtime}`,
    `OS/Arch:      ${platform.os}/${platform.arch}`,
  ].join('\n') + '\n';
}

export interface HelpAnswer {
  /** What goes to stdout. */
  readonly text: string;
  readonly code: number;
}

/**
 * The answer to a command line that asks for nothing but the version or a help text, or
 * undefined for every other one (which main() parses in full): no command (the main help, exit
 * 2), `--help`/`-h`/`help` with anything after it, `--version`/`-v`/`version` alone, and
 * `COMMAND --help` or `COMMAND -h` alone. `platform` is asked for only by `--version`.
 */
export function helpAnswerFor(argv: readonly string[], platform: () => Platform): HelpAnswer | undefined {
  const [command, ...rest] = argv;
  if (command === undefined) return { text: MAIN_HELP, code: EXIT_USAGE };
  if (command === '--help' || command === '-h' || command === 'help') return { text: MAIN_HELP, code: 0 };
  if ((command === '--version' || command === '-v' || command === 'version') && rest.length === 0) return { text: versionTextFor(platform()), code: 0 };
  const help = Object.hasOwn(COMMAND_HELP, command) ? COMMAND_HELP[command] : undefined;
  if (help !== undefined && rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) return { text: help, code: 0 };
  return undefined;
}
