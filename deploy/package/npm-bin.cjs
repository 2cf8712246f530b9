#!/usr/bin/env node
// `runner` as installed from the npm package: runs the CommonJS bundle (../lib/runner.cjs) through
// V8's code cache (../lib/runner.cjs.cache, made when the package was built), so Node compiles
// almost none of the bundle at start. A cache V8 refuses (another Node version) costs nothing but
// the time it would have saved; the bundle then compiles as any script does.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const Module = require('node:module');
const vm = require('node:vm');

const bundlePath = join(__dirname, '..', 'lib', 'runner.cjs');
const cachePath = `${bundlePath}.cache`;

let cachedData;
try {
  cachedData = readFileSync(cachePath);
} catch {
  cachedData = undefined;
}
// The bundle keeps cmd/runner.ts's #! line, which a script given to V8 directly may not start with.
const source = readFileSync(bundlePath, 'utf8').replace(/^#!/, '//');
const script = new vm.Script(Module.wrap(source), { filename: bundlePath, cachedData });

// The package build runs the runner once with this set, and keeps what V8 compiled by the end.
const cacheOut = process.env.RUNNER_WRITE_CODE_CACHE;
if (cacheOut) {
  delete process.env.RUNNER_WRITE_CODE_CACHE;
  process.on('exit', () => writeFileSync(cacheOut, script.createCachedData()));
}

const module_ = { exports: {}, filename: bundlePath, id: bundlePath };
script.runInThisContext()(module_.exports, Module.createRequire(bundlePath), module_, bundlePath, dirname(bundlePath));
