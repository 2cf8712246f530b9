// Where a runner scrape allocates, on Node: the bytes of the scrapes bench/scrape.ts measures
// (`(await telemetry.collect()).prometheus()` of every metric `runner run` registers, idle agent
// with the default configuration), by the file and function that allocated them, from V8's
// sampling heap profiler with the objects later collected by the GC included. Built-ins without a
// JavaScript frame of their own (new Map(), Array.prototype.sort, ...) count for their caller.
// Two cases: the default set, and +10k series (ten counters of 1000 series, as bench/scrape.ts).
//
//   npm run build:bench && node dist/bench/scrape-allocation-sites.js [--stock-sdk] [--openmetrics]
//
// --openmetrics: the scrapes write OpenMetrics (`openMetrics()`, what a Prometheus server asks for).
// --stock-sdk keeps the SDK as shipped, without the runner's leaner collection
// (src/telemetry/sdk-collection.ts), to show what that saves. Node only: Bun has no allocation
// sampling, and Deno's node:inspector has no heap profiler. Figures only, never pass or fail.

import { Session } from 'node:inspector/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/version.ts';
import { runtime } from '../src/runtime/runtime.ts';
import { keepSdkAsShipped } from '../src/telemetry/sdk-collection.ts';
import { makeSubjects } from './lib/scrape-subjects.ts';
import { table } from './lib/stats.ts';

const USAGE = 'usage: node dist/bench/scrape-allocation-sites.js [--stock-sdk] [--openmetrics]';
const SWITCHES = ['--stock-sdk', '--openmetrics'];
/** Bytes between samples: small enough that a 15 KiB text is sampled tens of times a scrape. */
const SAMPLING_INTERVAL = 256;
const WARM_UP_SCRAPES = 100;
const TOP_FUNCTIONS = 12;

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

interface Sites {
  readonly total: number;
  readonly byFile: Map<string, number>;
  readonly byFunction: Map<string, number>;
}

/** A file as the report shows it: a package path, or a path in the repository. */
function shownFile(url: string, root: string): string {
  const packaged = url.match(/node_modules\/(.+)$/);
  if (packaged) return packaged[1]!;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(root) ? relative(root, path) : path;
}

/** Self sizes by file and function; a frame without a file (a built-in) counts for its caller. */
function sitesOf(head: ProfileNode, root: string): Sites {
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const add = (map: Map<string, number>, key: string, bytes: number): void => {
    map.set(key, (map.get(key) ?? 0) + bytes);
  };
  const walk = (node: ProfileNode, owner: ProfileNode | undefined): void => {
    const frame = node.callFrame.url === '' ? owner : node;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const file = frame === undefined ? '(no JavaScript frame)' : shownFile(frame.callFrame.url, root);
      add(byFile, file, node.selfSize);
      add(byFunction, frame === undefined ? file : `${frame.callFrame.functionName || '(anonymous)'} ${file}:${frame.callFrame.lineNumber + 1}`, node.selfSize);
    }
    for (const child of node.children) walk(child, frame);
  };
  walk(head, undefined);
  return { total, byFile, byFunction };
}

async function profiled(session: Session, scrape: () => Promise<string>, scrapes: number): Promise<ProfileNode> {
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < scrapes; i++) await scrape();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  return profile.head as ProfileNode;
}

function report(name: string, sites: Sites, scrapes: number): string[] {
  const kib = (bytes: number): string => (bytes / scrapes / 1024).toFixed(1);
  const top = (map: Map<string, number>, n: number): string[][] => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, bytes]) => [kib(bytes), key]);
  return [
    `${name}: ${kib(sites.total)} KiB per scrape (${scrapes} scrapes sampled)`,
    '  by file:',
    ...table([['KiB/scrape', 'file'], ...top(sites.byFile, sites.byFile.size).filter(([k]) => Number(k) >= 0.5)]).split('\n').map((l) => `    ${l}`),
    '  by function (top):',
    ...table([['KiB/scrape', 'function'], ...top(sites.byFunction, TOP_FUNCTIONS)]).split('\n').map((l) => `    ${l}`),
  ];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.find((arg) => !SWITCHES.includes(arg));
  if (unknown !== undefined) throw new Error(`unknown argument ${unknown}; ${USAGE}`);
  if (runtime.name !== 'node') throw new Error(`${runtime.name}: this bench needs Node's heap profiler (node:inspector)`);
  const stock = args.includes('--stock-sdk');
  if (stock && !keepSdkAsShipped()) throw new Error('the SDK collection was streamlined before --stock-sdk could keep it as shipped');
  const root = packageRoot();
  const format = args.includes('--openmetrics') ? 'openmetrics' : 'prometheus';
  const { runner } = makeSubjects(format);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  const lines = [
    `node ${process.version}, @opentelemetry/sdk-metrics ${
      stock ? 'as shipped (--stock-sdk)' : "with the runner's leaner collection (src/telemetry/sdk-collection.ts)"
    }, ${format === 'openmetrics' ? 'OpenMetrics' : 'Prometheus text'} scrapes`,
    `V8 sampling heap profiler, one sample per ${SAMPLING_INTERVAL} bytes on average, objects collected by GC included`,
  ];
  for (const [name, extraMetrics, scrapes] of [['default', 0, 200], ['+10k series', 10, 20]] as const) {
    for (let i = 0; i < extraMetrics; i++) runner.addExtraMetric(i);
    for (let i = 0; i < WARM_UP_SCRAPES / (extraMetrics > 0 ? 10 : 1); i++) await runner.scrape();
    lines.push('', ...report(name, sitesOf(await profiled(session, runner.scrape, scrapes), root), scrapes));
  }
  session.disconnect();
  console.log(lines.join('\n'));
}

try {
  await main();
  // The runtime metrics' samplers keep the event loop alive.
  process.exit(0);
} catch (err) {
  process.stderr.write(`scrape-allocation-sites: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
