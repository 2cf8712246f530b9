#!/usr/bin/env node
// `runner` as installed from the npm package (bin/runner.js, bundled by esbuild when the package is
// built, with the build information written in). `--version` and the help texts are answered from
// this small file alone (src/cli/help-answers.ts). Anything else runs the CommonJS bundle of the
// runner (../lib/runner.cjs) through V8's code cache (../lib/runner.cjs.cache, made when the
// package was built; wrapped-bundle.ts). Stack traces and profiles name the bundle
// ci-runner-agent/lib/runner.cjs on the Node that built the package, whose V8 takes the cache and
// keeps the name it was made under (wrapped-bundle.ts, SCRIPT_NAMES), and by its installed path on
// another Node, which refuses the cache and compiles the bundle under the name given here.
//
// lib/runner.cjs is written by the package build already in CommonJS's function wrapper, without
// a #! line, and ASCII only (npm-package.ts): it is read as latin1, which Node hands to V8 as one
// string outside the JavaScript heap, and compiled as it is - no UTF-8 decoding, no copies for
// the #! line or the wrapper (each 1.2 MiB, and garbage the start's scavenges then had to walk).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { helpAnswer } from '../../src/cli/help-answers.ts';
import { BUNDLE_IN_PACKAGE, runWrappedBundle } from './wrapped-bundle.ts';

function runBundle(): void {
  // This file is bin/runner.js of the package once bundled (CommonJS: __dirname is bin/).
  const bundlePath = join(__dirname, '..', BUNDLE_IN_PACKAGE);
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
