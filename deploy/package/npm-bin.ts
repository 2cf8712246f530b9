#!/usr/bin/env node
// `runner` as installed from the npm package (bin/runner.js, bundled by esbuild when the package is
// built, with the build information written in). `--version` and the help texts are answered from
// this small file alone (src/cli/help-answers.ts). Anything else runs the CommonJS bundle of the
// runner (../lib/runner.cjs) through V8's code cache (../lib/runner.cjs.cache, made when the
// package was built; wrapped-bundle.ts).
//
// lib/runner.cjs is written by the package build already in CommonJS's function wrapper, without
// a #! line, and ASCII only (npm-package.ts): it is read as latin1, which Node hands to V8 as one
// string outside the JavaScript heap, and compiled as it is - no UTF-8 decoding, no copies for
// the #! line or the wrapper (each 1.2 MiB, and garbage the start's scavenges then had to walk).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { helpAnswer } from '../../src/cli/help-answers.ts';
import { runWrappedBundle } from './wrapped-bundle.ts';

function runBundle(): void {
  // This file is bin/runner.js of the package once bundled (CommonJS: __dirname is bin/).
  const bundlePath = join(__dirname, '..', 'lib', 'runner.cjs');
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${bundlePath}.cache`);
  } catch {
    cachedData = undefined;
  }
  runWrappedBundle(readFileSync(bundlePath, 'latin1'), cachedData, bundlePath);
}

const answer = helpAnswer(process.argv.slice(2));
if (answer === undefined) {
  runBundle();
} else {
  process.stdout.write(answer.text);
  process.exitCode = answer.code;
}
