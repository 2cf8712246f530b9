// A child process for test/local-queue.test.ts, run on the test's own runtime
// (scriptCommand): several of them work on one queue at once.
//
//   queue-worker claim   QUEUE_DIR GO_FILE   claims (and finishes) jobs until none is left
//   queue-worker recover QUEUE_DIR GO_FILE   recovers dead claims once
//
// Each prints `ready` once started, waits for GO_FILE to exist (so all start
// together), then prints one JSON line: { "owner": ..., "ids": [...] } with the
// ids it claimed or recovered.
import { existsSync } from 'node:fs';
import { claimNext, finish, ownerOf, recoverDeadClaims } from '../../src/sources/local/queue.ts';

async function waitForGo(goFile: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(goFile)) {
    if (Date.now() > deadline) throw new Error(`queue-worker: ${goFile} did not appear within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function main(mode: string, queueDir: string, goFile: string): Promise<void> {
  process.stdout.write('ready\n');
  await waitForGo(goFile);
  const ids: string[] = [];
  if (mode === 'claim') {
    for (let job = await claimNext(queueDir); job; job = await claimNext(queueDir)) {
      ids.push(job.id);
      await finish(queueDir, job, { state: 'success', exitCode: 0, startedAt: job.claimedAt });
    }
  } else if (mode === 'recover') {
    for (const result of await recoverDeadClaims(queueDir)) ids.push(result.id);
  } else {
    throw new Error(`queue-worker: unknown mode ${mode}`);
  }
  process.stdout.write(`${JSON.stringify({ owner: ownerOf(), ids })}\n`);
}

const [mode, queueDir, goFile] = process.argv.slice(2);
if (mode === undefined || queueDir === undefined || goFile === undefined) {
  process.stderr.write('usage: queue-worker claim|recover QUEUE_DIR GO_FILE\n');
  process.exit(2);
}
main(mode, queueDir, goFile).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
