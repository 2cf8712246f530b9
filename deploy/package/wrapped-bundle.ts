// Runs the runner's CommonJS bundle as the npm package's bin/runner.js (npm-bin.ts) and Node's
// single executable (sea-main.ts) load it: the bundle already in Node's module wrapper, ASCII only
// (npm-package.ts, wrappedBundle), compiled with the V8 code cache of a training run
// (training-run.ts), so Node compiles almost none of it at start. A cache V8 refuses (another
// Node version) costs only the time it would have saved: the bundle then compiles as any script.
//
// The name stack traces and profiles give the bundle's functions is the script's name, and a
// code cache carries the name of the script it was made from: Node 20's V8 (11.3) keeps that
// name when it takes the cache, whatever filename vm.Script is given (checked; V8 12 and later
// reset it from the new script's details). So the cache is made under a name that holds on every
// machine, the bundle's path inside the package (SCRIPT_NAMES), never the build's directory.
import { writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { NPM_PACKAGE_NAME } from './release-files.ts';

/** Where the npm package holds the bundle, and its code cache beside it with `.cache` appended. */
export const BUNDLE_IN_PACKAGE = 'lib/runner.cjs';

/**
 * The names the Node artefacts' scripts carry in stack traces and profiles wherever a build-time
 * name would otherwise show: the bundle as the code cache names it (the npm package's path
 * relative to where npm installs packages: `go tool pprof -source_path "$(npm root -g)"` finds
 * it), and the single executable's main script, which Node names by the path its SEA config gave
 * (node-executable.ts).
 */
export const SCRIPT_NAMES = {
  bundle: `${NPM_PACKAGE_NAME}/${BUNDLE_IN_PACKAGE}`,
  seaMain: `${NPM_PACKAGE_NAME}/sea-main.cjs`,
} as const;

/** The names Node's single executable carries the bundle and its code cache under (node-executable.ts). */
export const SEA_ASSETS = { bundle: 'runner.cjs', codeCache: 'runner.cjs.cache' } as const;

/**
 * `filename`: where the bundle says it is (its require resolves from there, and its __filename).
 * `scriptName`: what stack traces and profiles call it when V8 compiles it without the cache; with
 * the cache, Node 20 names it SCRIPT_NAMES.bundle whatever this says.
 */
export function runWrappedBundle(source: string, cachedData: Buffer | undefined, filename: string, scriptName = filename): void {
  // The package build runs the runner once with this set, and keeps what V8 compiled by the end.
  const cacheOut = process.env['RUNNER_WRITE_CODE_CACHE'];
  const script = new Script(source, { filename: cacheOut ? SCRIPT_NAMES.bundle : scriptName, cachedData });
  if (cachedData !== undefined && script.cachedDataRejected === true && process.env['RUNNER_DEBUG']) {
    process.stderr.write(`runner: V8 refused the code cache of ${filename}; the bundle is compiled instead\n`);
  }
  if (cacheOut) {
    delete process.env['RUNNER_WRITE_CODE_CACHE'];
    process.on('exit', () => writeFileSync(cacheOut, script.createCachedData()));
  }
  const module = { exports: {}, filename, id: filename };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper(module.exports, Module.createRequire(filename), module, filename, dirname(filename));
}
