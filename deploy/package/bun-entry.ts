// The Bun executable's entry point (bun-executable.ts). `--version` and the help texts are
// answered from this small module alone (src/cli/help-answers.ts); anything else imports the
// runner's ES module bundle, which `bun build --compile --splitting` keeps in a chunk of its own,
// so a `--version` never loads it.
import { helpAnswer } from '../../src/cli/help-answers.ts';

const answer = helpAnswer(process.argv.slice(2));
if (answer === undefined) {
  // @ts-expect-error -- the runner's bundle, written beside this entry when the release is built (bun-executable.ts)
  await import('./main.mjs');
} else {
  process.stdout.write(answer.text);
  process.exitCode = answer.code;
}
