// Pipelined scrapes nobody reads: how long another client's /metrics takes while ATTACKERS (10)
// connections each send PIPELINED (2000) `GET /metrics` at once and never read an answer, against
// the same client's scrapes with no attack, in the same run, on a fresh runner each time.
//
//   quiet          the median of 20 scrapes in a row before the attack
//   under attack   the slowest and the median of the scrapes made every 100 ms for 5 s from the
//                  moment the attack is written (the first one waits for whatever the attack costs),
//                  and how many of them failed (connection reset; timed to the failure)
//   RSS            the runner's peak resident memory (VmHWM) at the end
//
// Node and Deno are measured twice in each run, with the connection front (src/server/connection-front.ts)
// and without it (RUNNER_CONNECTION_FRONT=off), alternating which goes first; Bun never has it.
// Medians over --runs runs (default 3). The goal is /metrics within 100 ms for other clients
// during such an attack. Nothing passes or fails on a figure: exit 0 after printing, 1 if a measurement
// could not be made.
//
//   npm run build:bench && node dist/bench/pipelined-scrapes.js [node|bun|deno ...] [--runs N]

import { connect, type Socket } from 'node:net';
import { packageRoot } from '../src/version.ts';
import { parseBenchArgs } from './lib/args.ts';
import { withQueueRunner } from './lib/jobs-runner.ts';
import { killSpawnedOnExit, runBench } from './lib/processes.ts';
import { ALL_RUNTIMES, type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';

const ATTACKERS = 10;
const PIPELINED = 2000;
const QUIET_SCRAPES = 20;
const ATTACK_WINDOW_MS = 5_000;
const SCRAPE_EVERY_MS = 100;
const DEFAULT_RUNS = 3;

interface Measure {
  quietMs: number;
  worstMs: number;
  medianMs: number;
  /** Scrapes under attack that failed (connection reset or refused); their time is to the failure. */
  failed: number;
  peakRssMiB: number;
}

async function scrapeMs(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/metrics`).catch((error: unknown) => {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new Error(`GET ${url}/metrics failed${cause}`, { cause: error });
  });
  await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return performance.now() - started;
}

function attack(url: string): Socket[] {
  const { hostname, port } = new URL(url);
  const requests = 'GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n'.repeat(PIPELINED);
  return Array.from({ length: ATTACKERS }, () => {
    const socket = connect(Number(port), hostname, () => socket.write(requests));
    socket.on('error', () => undefined);
    socket.pause();
    return socket;
  });
}

/** With or without the front; `undefined` where the runtime never has one (Bun). */
type Front = boolean | undefined;

function measure(spec: RuntimeSpec, front: Front): Promise<Measure> {
  return withQueueRunner(spec, 'runners = []\n', front === false ? { env: { RUNNER_CONNECTION_FRONT: 'off' } } : {}, async (runner) => {
    const quiet: number[] = [];
    for (let i = 0; i < QUIET_SCRAPES; i++) quiet.push(await scrapeMs(runner.url));
    const sockets = attack(runner.url);
    const during: number[] = [];
    let failed = 0;
    try {
      const end = performance.now() + ATTACK_WINDOW_MS;
      while (performance.now() < end) {
        // A scrape whose connection the runner resets (deno without the front did) is counted, and
        // timed to its failure: the client waited that long for nothing.
        const started = performance.now();
        during.push(
          await scrapeMs(runner.url).catch(() => {
            failed++;
            return performance.now() - started;
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, SCRAPE_EVERY_MS));
      }
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    const peak = runner.memory()?.peakResidentBytes;
    if (peak === undefined) throw new Error('the runner memory is not readable from /proc');
    if (failed === during.length) throw new Error(`no scrape succeeded under attack (${failed} failed)\n${runner.tail()}`);
    return { quietMs: median(quiet), worstMs: Math.max(...during), medianMs: median(during), failed, peakRssMiB: peak / 1024 / 1024 };
  });
}

async function main(): Promise<number> {
  killSpawnedOnExit();
  const usage = `usage: node dist/bench/pipelined-scrapes.js [${ALL_RUNTIMES.join('|')} ...] [--runs N]`;
  const { runtimes, runs } = parseBenchArgs(process.argv.slice(2), usage, DEFAULT_RUNS, []);
  const root = packageRoot();
  const rows: string[][] = [['runtime', 'quiet ms', 'under attack: slowest ms', 'median ms', 'median/quiet', 'failed', 'peak RSS MiB']];
  for (const name of runtimes) {
    const spec = specFor(name, root);
    console.log(`bench: ${name} ${await versionOf(spec, root)}`);
    const fronts: Front[] = name === 'bun' ? [undefined] : [true, false];
    const measures = new Map<Front, Measure[]>(fronts.map((front) => [front, []]));
    for (let run = 0; run < runs; run++) {
      for (const front of run % 2 === 0 ? fronts : [...fronts].reverse()) measures.get(front)!.push(await measure(spec, front));
    }
    for (const front of fronts) {
      const m = (key: keyof Measure): number => median(measures.get(front)!.map((x) => x[key]));
      rows.push([
        front === undefined ? `${name} (no front)` : front ? `${name}, front` : `${name}, front off`,
        m('quietMs').toFixed(1),
        m('worstMs').toFixed(0),
        m('medianMs').toFixed(1),
        (m('medianMs') / m('quietMs')).toFixed(2),
        m('failed').toFixed(0),
        m('peakRssMiB').toFixed(0),
      ]);
    }
  }
  console.log(
    `${ATTACKERS} connections x ${PIPELINED} pipelined GET /metrics never read; another client scrapes every ${SCRAPE_EVERY_MS} ms for ${
      ATTACK_WINDOW_MS / 1000
    } s; medians of ${runs} run(s)`,
  );
  console.log(table(rows));
  console.log('goal: another client answered within 100 ms during the attack; measured, never asserted.');
  return 0;
}

await runBench(main);
