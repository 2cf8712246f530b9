// Archive benchmark: the peak memory and the speed of zipping and unzipping artifacts on Node, Bun
// and Deno, next to Debian's zip/unzip on the same files in the same run.
//
// Two trees are made under /tmp (mixed files: one big file and many small ones, pseudo-random
// content, so deflate works for real): 10 MiB (one 6 MiB file, 400 of 10 KiB) and 1 GiB (one 768 MiB
// file, 10,240 of 25.6 KiB). For each runtime and tree, a fresh process (this script with
// --measure) collects the tree (src/artifacts/paths.ts), zips it to a file (zip-writer.ts) and
// extracts it again (zip-reader.ts); it reports the growth of its VmHWM (the kernel's peak resident
// set, /proc/self/status) from before the work to after it, and the two durations. Debian's
// `zip -qr` and `unzip -q` run once per tree on the same files for the throughput ratio.
//
// The target is printed as met or not: the growth for 1 GiB within 32 MiB of that for
// 10 MiB, per runtime. It never passes or fails on a figure: exit 0 after printing, 1 if a
// measurement could not be made. The trees and archives are removed at the end.
//
//   npm run build:bench && node dist/bench/archive.js            # all runtimes
//   node dist/bench/archive.js node bun                           # some

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { packageRoot } from '../src/version.ts';
import { collectEntries } from '../src/artifacts/paths.ts';
import { writeZip } from '../src/artifacts/zip-writer.ts';
import { extractZip } from '../src/artifacts/zip-reader.ts';
import { readStatusMemory } from '../src/system/proc-stat.ts';
import { killSpawnedOnExit, runBench, runToExit } from './lib/processes.ts';
import { ALL_RUNTIMES, type RuntimeName, scriptArgs, specFor, versionOf } from './lib/runtimes.ts';
import { table } from './lib/stats.ts';

const SCRIPT = 'bench/archive.ts';
const MiB = 1024 * 1024;
const TARGET_MIB = 32;
const MEASURE_TIMEOUT_MS = 1_800_000;

interface TreeSpec {
  label: string;
  bigBytes: number;
  smallCount: number;
  smallBytes: number;
}
const TREES: TreeSpec[] = [
  { label: '10 MiB', bigBytes: 6 * MiB, smallCount: 400, smallBytes: 10 * 1024 },
  { label: '1 GiB', bigBytes: 768 * MiB, smallCount: 10_240, smallBytes: 25.6 * 1024 },
];

interface Measured {
  hwmGrowthBytes: number;
  zipMs: number;
  unzipMs: number;
  zipBytes: number;
  entries: number;
}

/** Pseudo-random text-like content: compressible about 2:1, as logs and binaries often are. */
function filler(bytes: number): Buffer {
  const random = randomBytes(Math.ceil(bytes / 2));
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = i % 2 === 0 ? 97 + ((random[i >> 1] ?? 0) % 16) : 32;
  return out;
}

async function makeTree(root: string, spec: TreeSpec): Promise<number> {
  mkdirSync(join(root, 'out', 'small'), { recursive: true });
  const big = createWriteStream(join(root, 'out', 'big.bin'));
  const block = filler(MiB);
  for (let written = 0; written < spec.bigBytes; written += MiB) {
    block[0] = written & 0xff; // not one repeated block throughout
    if (!big.write(Buffer.from(block))) await once(big, 'drain');
  }
  big.end();
  await once(big, 'close');
  const small = filler(Math.floor(spec.smallBytes));
  for (let i = 0; i < spec.smallCount; i++) {
    const dir = join(root, 'out', 'small', `d${i % 64}`);
    if (i < 64) mkdirSync(dir, { recursive: true });
    small[0] = i & 0xff;
    writeFileSync(join(dir, `f${i}.txt`), small);
  }
  return spec.bigBytes + spec.smallCount * Math.floor(spec.smallBytes);
}

/** The child: one zip and one extraction of `tree`, measured from inside. */
async function measureChild(tree: string, work: string): Promise<number> {
  const before = readStatusMemory('self')?.peakResidentBytes;
  const t0 = performance.now();
  const { entries } = await collectEntries({ projectDir: tree, paths: ['out'] });
  const zipPath = join(work, 'a.zip');
  const zipBytes = await writeZip(entries, zipPath, { projectDir: tree });
  const t1 = performance.now();
  await extractZip(zipPath, join(work, 'extracted'));
  const t2 = performance.now();
  const after = readStatusMemory('self')?.peakResidentBytes;
  if (before === undefined || after === undefined) throw new Error('VmHWM is not readable from /proc/self/status');
  const result: Measured = { hwmGrowthBytes: after - before, zipMs: t1 - t0, unzipMs: t2 - t1, zipBytes, entries: entries.length };
  console.log(JSON.stringify(result));
  return 0;
}

function timeCli(command: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd, stdio: 'ignore' });
  if (r.status !== 0) return NaN;
  return performance.now() - t0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--measure') return measureChild(argv[1] ?? '', argv[2] ?? '');
  killSpawnedOnExit();
  const root = packageRoot();
  const runtimes = argv.filter((a): a is RuntimeName => (ALL_RUNTIMES as readonly string[]).includes(a));
  const chosen = runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES];
  const base = mkdtempSync(join(tmpdir(), 'runner-bench-archive-'));
  let failed = false;
  try {
    const rows: string[][] = [['runtime', 'tree', 'entries', 'VmHWM growth MiB', 'zip MB/s', 'unzip MB/s', 'zip / zip -r', 'unzip / unzip']];
    const growth = new Map<string, number>();
    for (const spec of TREES) {
      const tree = join(base, `tree-${spec.label.replace(' ', '')}`);
      process.stderr.write(`bench: making the ${spec.label} tree\n`);
      const bytes = await makeTree(tree, spec);
      const cliWork = join(base, 'cli');
      mkdirSync(cliWork, { recursive: true });
      const zipCliMs = timeCli('zip', ['-qr', join(cliWork, 'a.zip'), 'out'], tree);
      const unzipCliMs = timeCli('unzip', ['-q', join(cliWork, 'a.zip'), '-d', join(cliWork, 'x')], tree);
      rmSync(cliWork, { recursive: true, force: true });
      const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
      rows.push(['zip/unzip CLI', spec.label, '', '', mbps(zipCliMs).toFixed(0), mbps(unzipCliMs).toFixed(0), '1.00', '1.00']);
      for (const name of chosen) {
        const runtime = specFor(name, root);
        const work = join(base, `work-${name}`);
        mkdirSync(work, { recursive: true });
        process.stderr.write(`bench: ${name} ${await versionOf(runtime, root)}: ${spec.label}\n`);
        const r = await runToExit(runtime.bin, [...scriptArgs(runtime, root, SCRIPT), '--measure', tree, work], root, MEASURE_TIMEOUT_MS);
        rmSync(work, { recursive: true, force: true });
        const last = r.stdout.trim().split('\n').at(-1) ?? '';
        if (r.code !== 0 || !last.startsWith('{')) {
          failed = true;
          rows.push([name, spec.label, `failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`]);
          continue;
        }
        const m = JSON.parse(last) as Measured;
        growth.set(`${name} ${spec.label}`, m.hwmGrowthBytes / MiB);
        rows.push([
          name,
          spec.label,
          String(m.entries),
          (m.hwmGrowthBytes / MiB).toFixed(1),
          mbps(m.zipMs).toFixed(0),
          mbps(m.unzipMs).toFixed(0),
          (zipCliMs / m.zipMs).toFixed(2),
          (unzipCliMs / m.unzipMs).toFixed(2),
        ]);
      }
      rmSync(tree, { recursive: true, force: true });
    }
    console.log(table(rows));
    console.log("MB/s: the tree's file bytes over the wall time; a ratio under 1 is slower than Debian's CLI.");
    for (const name of chosen) {
      const small = growth.get(`${name} 10 MiB`);
      const large = growth.get(`${name} 1 GiB`);
      if (small === undefined || large === undefined) continue;
      const met = large - small <= TARGET_MIB;
      console.log(`target ${name}: 1 GiB grows ${(large - small).toFixed(1)} MiB more than 10 MiB (limit ${TARGET_MIB}): ${met ? 'met' : 'NOT met'}`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

await runBench(main);
