// `--version` and the `--help` texts on the runtime the runner runs on, answered from this module,
// help-answers-for.ts, help.ts and the build information alone. main() answers through it, and so
// do the release artefacts' entry points before they load the runner's bundle (issue 17: `runner
// --version` as fast as the bare runtime), so every artefact prints the same text.
import { architecture, operatingSystem, runtime } from '../runtime/runtime.ts';
import { EXIT_USAGE, type HelpAnswer, helpAnswerFor, type Platform, versionTextFor } from './help-answers-for.ts';

export { EXIT_USAGE, type HelpAnswer };

function here(): Platform {
  return { runtime: `${runtime.name} ${runtime.version}`, os: operatingSystem, arch: architecture };
}

export function versionText(): string {
  return versionTextFor(here());
}

/** See helpAnswerFor: the answer to a command line that asks only for the version or a help text, else undefined. */
export function helpAnswer(argv: readonly string[]): HelpAnswer | undefined {
  return helpAnswerFor(argv, here);
}
