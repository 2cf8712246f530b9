// The Deno artefact's entry point, runner.mjs (deno-bundle.ts). `--version` and the help texts are
// answered from this small module alone; anything else imports the runner's bundle, main.mjs
// beside it. The answers are made from Deno's own globals, not Node's `process`: the first touch
// of `process` (its arguments, its stdout) sets up Deno's Node compatibility, about 25 ms of CPU,
// a third of a bare `deno eval 0`. The text is the one every artefact prints (help-answers-for.ts,
// with Node's names for the operating system and the architecture).
import { helpAnswerFor, type Platform } from '../../src/cli/help-answers-for.ts';

interface DenoGlobals {
  readonly args: readonly string[];
  readonly version: { readonly deno: string };
  readonly build: { readonly os: string; readonly arch: string };
  readonly stdout: { writeSync(bytes: Uint8Array): number };
  exitCode: number;
}
declare const Deno: DenoGlobals;

/** Node's process.platform and process.arch for Deno.build's names. */
const NODE_OS: Readonly<Record<string, string>> = { windows: 'win32' };
const NODE_ARCH: Readonly<Record<string, string>> = { x86_64: 'x64', aarch64: 'arm64' };

function platform(): Platform {
  const { os, arch } = Deno.build;
  return { runtime: `deno ${Deno.version.deno}`, os: NODE_OS[os] ?? os, arch: NODE_ARCH[arch] ?? arch };
}

const answer = helpAnswerFor(Deno.args, platform);
if (answer === undefined) {
  // @ts-expect-error -- the runner's bundle, written beside this entry when the release is built (deno-bundle.ts)
  await import('./main.mjs');
} else {
  // writeSync may write less than it was given (a pipe that is full): the rest follows.
  let bytes = new TextEncoder().encode(answer.text);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  Deno.exitCode = answer.code;
}
