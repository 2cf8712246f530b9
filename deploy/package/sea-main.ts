// The main script of Node's single executable (node-executable.ts). `--version` and the help texts
// are answered from this small script alone (src/cli/help-answers.ts). Anything else runs the
// runner's bundle, an asset of the executable, through the V8 code cache of the npm package's
// training run (wrapped-bundle.ts): the same bundle, compiled by the same Node, so V8 takes the
// cache, which holds every function a start used - Node's own `useCodeCache` holds only what
// compiling the bundle compiles eagerly, and the rest compiled at start. The bundle's require and
// __filename are the executable's; stack traces and profiles name it SCRIPT_NAMES.bundle, as the
// cache does, also should V8 ever refuse the cache: the same bundle, the same name.
import { getRawAsset } from 'node:sea';
import { helpAnswer } from '../../src/cli/help-answers.ts';
import { runWrappedBundle, SCRIPT_NAMES, SEA_ASSETS } from './wrapped-bundle.ts';

const answer = helpAnswer(process.argv.slice(2));
if (answer === undefined) {
  // The raw assets are the executable's own pages, read-only: the bundle is copied once into a
  // string outside the JavaScript heap (latin1: it is ASCII), and V8 only reads the cache.
  const raw = (key: string): Buffer => Buffer.from(getRawAsset(key) as ArrayBuffer);
  runWrappedBundle(raw(SEA_ASSETS.bundle).toString('latin1'), raw(SEA_ASSETS.codeCache), process.execPath, SCRIPT_NAMES.bundle);
} else {
  process.stdout.write(answer.text);
  process.exitCode = answer.code;
}
