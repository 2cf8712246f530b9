#!/usr/bin/env node
// The runner's entry point on Node (dist/cmd/runner.js), Bun and Deno (cmd/runner.ts).
import { main } from '../src/cli/main.ts';

// Exit explicitly: signal listeners must not keep a finished process alive on any runtime.
process.exit(await main(process.argv.slice(2)));
