// Runs the runner's CommonJS bundle as the npm package's bin/runner.js (npm-bin.ts) and Node's
// single executable (sea-main.ts) load it: the bundle already in Node's module wrapper, ASCII only
// (npm-package.ts, wrappedBundle), compiled with the V8 code cache of a training run
// (training-run.ts), so Node compiles almost none of it at start. A cache V8 refuses (another
// Node version) costs only the time it would have saved: the bundle then compiles as any script.
import { writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** The names Node's single executable carries the bundle and its code cache under (node-executable.ts). */
export const SEA_ASSETS = { bundle: 'runner.cjs', codeCache: 'runner.cjs.cache' } as const;

/** `filename`: where the bundle says it is (its require resolves from there; stack traces name it). */
export function runWrappedBundle(source: string, cachedData: Buffer | undefined, filename: string): void {
  const script = new Script(source, { filename, cachedData });
  if (cachedData !== undefined && script.cachedDataRejected === true && process.env['RUNNER_DEBUG']) {
    process.stderr.write(`runner: V8 refused the code cache of ${filename}; the bundle is compiled instead\n`);
  }
  // The package build runs the runner once with this set, and keeps what V8 compiled by the end.
  const cacheOut = process.env['RUNNER_WRITE_CODE_CACHE'];
  if (cacheOut) {
    delete process.env['RUNNER_WRITE_CODE_CACHE'];
    process.on('exit', () => writeFileSync(cacheOut, script.createCachedData()));
  }
  const module = { exports: {}, filename, id: filename };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper(module.exports, Module.createRequire(filename), module, filename, dirname(filename));
}
