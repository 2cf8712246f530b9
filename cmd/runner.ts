#!/usr/bin/env node
// The runner's entry point on Node (dist/cmd/runner.js), Bun and Deno (cmd/runner.ts), and of the
// release bundles. No top-level await: Node's single executable and the CommonJS bundle need a
// script that runs to its end, so the work is a promise that exits the process when it settles.
async function start(argv: readonly string[]): Promise<number> {
  // As Go's runtime does from process start: heap sampling begins before the
  // rest of the runner loads (it stops again if the config turns profiling off).
  if (argv[0] === 'run' && !argv.includes('--help') && !argv.includes('-h')) {
    const { startEarlyHeapSampling } = await import('../src/profiling/heap-sampler.ts');
    await startEarlyHeapSampling();
  }
  // Loaded after sampling started; `--version` and `--help` load only the command line's own modules.
  const { main } = await import('../src/cli/main.ts');
  return main(argv);
}

// Exit explicitly: signal listeners must not keep a finished process alive on any runtime.
start(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
  process.stderr.write(`runner: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
