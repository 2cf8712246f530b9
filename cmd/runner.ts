#!/usr/bin/env node
// The runner's entry point on Node (dist/cmd/runner.js), Bun and Deno (cmd/runner.ts).
import { startEarlyHeapSampling } from '../src/profiling/heap-sampler.ts';

// As Go's runtime does from process start: heap sampling begins before the
// rest of the runner loads (it stops again if the config turns profiling off).
if (process.argv[2] === 'run') await startEarlyHeapSampling();
const { main } = await import('../src/cli/main.ts');

// Exit explicitly: signal listeners must not keep a finished process alive on any runtime.
process.exit(await main(process.argv.slice(2)));
