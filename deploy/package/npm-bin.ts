#!/usr/bin/env node
// `runner` as installed from the npm package (bin/runner.js, bundled by esbuild when the package is
// built, with the build information written in). `--version` and the help texts are answered from
// this small file alone (src/cli/help-answers.ts). Anything else runs the CommonJS bundle of the
// runner (../lib/runner.cjs) through V8's code cache (../lib/runner.cjs.cache, made when the
// package was built), so Node compiles almost none of the bundle at start. A cache V8 refuses
// (another Node version) costs nothing but the time it would have saved; the bundle then compiles
// as any script does.
//
// lib/runner.cjs is written by the package build already in CommonJS's function wrapper, without
// a #! line, and ASCII only (npm-package.ts): it is read as latin1, which Node hands to V8 as one
// string outside the JavaScript heap, and compiled as it is - no UTF-8 decoding, no copies for
// the #! line or the wrapper (each 1.2 MiB, and garbage the start's scavenges then had to walk).
import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { helpAnswer } from '../../src/cli/help-answers.ts';

function runBundle(): void {
  // This file is bin/runner.js of the package once bundled (CommonJS: __dirname is bin/).
  const bundlePath = join(__dirname, '..', 'lib', 'runner.cjs');
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${bundlePath}.cache`);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(readFileSync(bundlePath, 'latin1'), { filename: bundlePath, cachedData });

  // The package build runs the runner once with this set, and keeps what V8 compiled by the end.
  const cacheOut = process.env['RUNNER_WRITE_CODE_CACHE'];
  if (cacheOut) {
    delete process.env['RUNNER_WRITE_CODE_CACHE'];
    process.on('exit', () => writeFileSync(cacheOut, script.createCachedData()));
  }

  const module = { exports: {}, filename: bundlePath, id: bundlePath };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper(module.exports, Module.createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
}

const answer = helpAnswer(process.argv.slice(2));
if (answer === undefined) {
  runBundle();
} else {
  process.stdout.write(answer.text);
  process.exitCode = answer.code;
}
