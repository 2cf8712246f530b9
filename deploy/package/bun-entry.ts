// The Bun executable's entry point (bun-executable.ts). `--version` and the help texts are
// answered from this small module alone (help-answers-for.ts, with the platform read here);
// anything else imports the runner's ES module bundle, which `bun build --compile --splitting`
// keeps in a chunk of its own, so a `--version` never loads it. Not src/runtime/runtime.ts: its
// node:perf_hooks and node:v8 cost a `--version` about a third more than a bare `bun -e 0`.
import { helpAnswerFor, type Platform } from '../../src/cli/help-answers-for.ts';

interface BunGlobals {
  readonly stdout: unknown;
  write(destination: unknown, text: string): Promise<number>;
}
declare const Bun: BunGlobals;

function platform(): Platform {
  return { runtime: `bun ${process.versions['bun'] ?? '?'}`, os: process.platform, arch: process.arch };
}

const answer = helpAnswerFor(process.argv.slice(2), platform);
if (answer === undefined) {
  // @ts-expect-error -- the runner's bundle, written beside this entry when the release is built (bun-executable.ts)
  await import('./main.mjs');
} else {
  // Bun's own writer: process.stdout's stream takes longer to set up than the rest of the answer.
  await Bun.write(Bun.stdout, answer.text);
  process.exitCode = answer.code;
}
