// The profiler-overhead bench's report for one runtime: every round's figures, then the medians
// of the per-round ratios (not ratios of medians) with their [min-max] range, and how the cost
// changes over the profile's life (per 1 s slice of the window).

import type { Measurement, Window } from './overhead-measure.ts';
import type { RuntimeName } from './runtimes.ts';
import { median, table } from './stats.ts';

/** Targets from issue 17, printed next to the figures (they do not affect the exit code). */
const TARGET_HEAP = 1.01;
const TARGET_CPU_PROFILE = 1.05;
/** Above this much CPU use by other processes during a window, the report warns about interference. */
const OTHER_CPU_WARN_SHARE = 0.2;

/**
 * One round: (a) no-pprof, (b) heap, (s) the two side by side, then per rate (c) a fresh profiled
 * runner and (w) a warm one.
 */
export interface Round {
  a: Measurement;
  b: Measurement;
  s: { off: Measurement; on: Measurement };
  c: Map<string, Measurement>;
  w: Map<string, Measurement>;
}

export interface ReportInput {
  runtime: RuntimeName;
  version: string;
  rounds: Round[];
  /** Rate labels in order ("100 Hz", "default (1000 Hz)", ...). */
  rates: string[];
  /** The command of each kind of runner, for the header. */
  commands: { noPprof: string; pprof: string };
  seconds: number;
  clients: number;
  warmProcessSeconds: number;
  warmupSeconds: number;
}

const fmtRate = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const fmtMicros = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(3)}x` : 'n/a');
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : 'n/a');
const range = (xs: number[]): string => (xs.length === 0 ? 'n/a' : `[${fmtRatio(Math.min(...xs))}-${fmtRatio(Math.max(...xs))}]`);
const summary = (xs: number[]): string => `${fmtRatio(median(xs))} ${range(xs)}`;

const only = (m: Measurement): Window => m.windows[0]!;
const cpu = (w: Window): number => w.cpuMicrosPerScrape;
const thr = (w: Window): number => w.scrapesPerSecond;
/** Warm: the on window against the mean of the off windows before and after it. */
const warmRatio = (m: Measurement, f: (w: Window) => number): number => f(m.windows[1]!) / ((f(m.windows[0]!) + f(m.windows[2]!)) / 2);

/** Per-slice ratios, median over rounds for each slice. */
function sliceRatios(pairs: Array<[number[], number[]]>): number[] {
  const n = Math.min(...pairs.map(([x, y]) => Math.min(x.length, y.length)));
  return Array.from({ length: n }, (_, i) => median(pairs.map(([x, y]) => x[i]! / y[i]!).filter(Number.isFinite)));
}

export function reportRuntime(input: ReportInput): string[] {
  const { rounds, rates } = input;
  const lines: string[] = [];
  const label = (name: string): string => (input.runtime === 'bun' && name === 'heap' ? 'default (no heap sampling on Bun)' : name);
  lines.push(`== ${input.runtime} ${input.version}: ${rounds.length} complete round(s)`);
  lines.push(`   (a) no-pprof  ${input.commands.noPprof}`);
  lines.push(`   (b) ${label('heap')}  ${input.commands.pprof}`);
  lines.push(`   (s) (a) and (b) side by side: started together, loaded at the same time by ${input.clients} client(s) each, the same window`);
  lines.push(
    `   (c) the same plus a CPU profile held open from before the load (fresh runner, profiled from its first scrape), ` +
      `${input.warmupSeconds} s warm-up then ${input.seconds} s measured`,
  );
  lines.push(
    `   (w) the same as (b), warmed by ${input.warmProcessSeconds} s of load, then ${input.seconds} s windows in one process: ` +
      'profile off, on, off; on / mean(off)',
  );
  lines.push(`   rates: ${rates.join(', ')} (RUNNER_PPROF_CPU_HZ; "default" is the runner's own)`);
  if (rounds.length === 0) return lines;
  lines.push('');

  // Throughput and CPU per scrape, every measurement of every round.
  const header = ['round', '(a) /s', '(b) /s', ...rates.flatMap((r) => [`(c) ${r} /s`, `(w) ${r} off/on/off /s`])];
  const t: string[][] = [header];
  const c: string[][] = [[
    'round',
    '(a) us/scrape',
    '(b)',
    '(b)/(a)',
    '(s) off/on',
    'on/off',
    ...rates.flatMap((r) => [`(c) ${r}`, '(c)/(b)', `(w) ${r} off/on/off`, 'on/off']),
  ]];
  rounds.forEach((round, i) => {
    t.push([
      String(i + 1),
      fmtRate(thr(only(round.a))),
      fmtRate(thr(only(round.b))),
      ...rates.flatMap((r) => [fmtRate(thr(only(round.c.get(r)!))), round.w.get(r)!.windows.map((w) => fmtRate(thr(w))).join('/')]),
    ]);
    c.push([
      String(i + 1),
      fmtMicros(cpu(only(round.a))),
      fmtMicros(cpu(only(round.b))),
      fmtRatio(cpu(only(round.b)) / cpu(only(round.a))),
      `${fmtMicros(cpu(only(round.s.off)))}/${fmtMicros(cpu(only(round.s.on)))}`,
      fmtRatio(cpu(only(round.s.on)) / cpu(only(round.s.off))),
      ...rates.flatMap((r) => {
        const w = round.w.get(r)!;
        return [
          fmtMicros(cpu(only(round.c.get(r)!))),
          fmtRatio(cpu(only(round.c.get(r)!)) / cpu(only(round.b))),
          w.windows.map((x) => fmtMicros(cpu(x))).join('/'),
          fmtRatio(warmRatio(w, cpu)),
        ];
      }),
    ]);
  });
  lines.push('   scrapes per second:', ...table(t).split('\n').map((l) => `   ${l}`), '');
  lines.push('   runner CPU per scrape (microseconds, from /proc/PID/stat) and ratios:', ...table(c).split('\n').map((l) => `   ${l}`), '');

  // The summary: medians of per-round ratios.
  const heapCpu = rounds.map((r) => cpu(only(r.b)) / cpu(only(r.a)));
  const heapThr = rounds.map((r) => thr(only(r.b)) / thr(only(r.a)));
  lines.push(
    `   heap sampling on vs off, (b)/(a): CPU/scrape ${summary(heapCpu)}, throughput ${summary(heapThr)}; target CPU/scrape <= ${TARGET_HEAP}x` +
      (input.runtime === 'bun' ? ' (Bun has no heap sampling: this is the noise level)' : ''),
  );
  const sideCpu = rounds.map((r) => cpu(only(r.s.on)) / cpu(only(r.s.off)));
  const sideThr = rounds.map((r) => thr(only(r.s.on)) / thr(only(r.s.off)));
  lines.push(
    `   heap sampling on vs off side by side, (s): CPU/scrape ${summary(sideCpu)}, throughput ${summary(sideThr)}; target CPU/scrape <= ${TARGET_HEAP}x` +
      (input.runtime === 'bun' ? ' (the noise level on Bun)' : ''),
  );
  const sideSlices = sliceRatios(rounds.map((r) => [only(r.s.on).sliceCpuMicrosPerScrape, only(r.s.off).sliceCpuMicrosPerScrape]));
  lines.push(
    `     by second of the runners' load (median over rounds): ${sideSlices.map((x, i) => `${i + 1 + input.warmupSeconds}s ${fmtRatio(x)}`).join(', ')}`,
  );
  for (const rate of rates) {
    const fresh = rounds.map((r) => cpu(only(r.c.get(rate)!)) / cpu(only(r.b)));
    const freshThr = rounds.map((r) => thr(only(r.c.get(rate)!)) / thr(only(r.b)));
    const freshVsNone = rounds.map((r) => cpu(only(r.c.get(rate)!)) / cpu(only(r.a)));
    const warm = rounds.map((r) => warmRatio(r.w.get(rate)!, cpu));
    const warmThr = rounds.map((r) => warmRatio(r.w.get(rate)!, thr));
    lines.push(
      `   CPU profile at ${rate}, fresh runner, (c)/(b): CPU/scrape ${summary(fresh)}, throughput ${summary(freshThr)}; ` +
        `(c)/(a) CPU/scrape ${summary(freshVsNone)}; target <= ${TARGET_CPU_PROFILE}x`,
    );
    lines.push(
      `   CPU profile at ${rate}, warm runner, (w) on/off: CPU/scrape ${summary(warm)}, throughput ${summary(warmThr)}; target <= ${TARGET_CPU_PROFILE}x`,
    );
    // Over the profile's life: slice k of (c) is k + warm-up seconds after the profile started.
    const freshSlices = sliceRatios(rounds.map((r) => [only(r.c.get(rate)!).sliceCpuMicrosPerScrape, only(r.b).sliceCpuMicrosPerScrape]));
    const warmSlices = sliceRatios(rounds.map((r) => {
      const [off1, on, off2] = r.w.get(rate)!.windows as [Window, Window, Window];
      return [on.sliceCpuMicrosPerScrape, on.sliceCpuMicrosPerScrape.map((_, i) => (off1.sliceCpuMicrosPerScrape[i]! + off2.sliceCpuMicrosPerScrape[i]!) / 2)];
    }));
    lines.push(
      `     CPU/scrape by second of the profile's life (median over rounds): fresh (c)/(b) ${
        freshSlices.map((x, i) => `${i + 1 + input.warmupSeconds}s ${fmtRatio(x)}`).join(', ')
      }`,
    );
    lines.push(`     warm on/off ${warmSlices.map((x, i) => `${i + 1}s ${fmtRatio(x)}`).join(', ')}`);
  }
  lines.push('');
  lines.push(...notes(input).map((n) => `   note: ${n}`));
  return lines;
}

function notes(input: ReportInput): string[] {
  const notes: string[] = [];
  const all: Measurement[] = input.rounds.flatMap((r) => [r.a, r.b, r.s.off, r.s.on, ...r.c.values(), ...r.w.values()]);
  const said = [...new Set(all.map((m) => m.profilingLine || '(no "Profiling ..." log line)'))];
  notes.push(`runner logged: ${said.join(' | ')}`);
  for (const check of new Set(all.map((m) => m.processCheck))) notes.push(check);
  // CPU shares from the runners measured alone: in a side-by-side window the other runner is
  // "other processes" and the client drives both.
  const windows = input.rounds.flatMap((r) => [r.a, r.b, ...r.c.values(), ...r.w.values()]).flatMap((m) => m.windows);
  const conns = all.map((m) => m.connections);
  notes.push(
    `keep-alive: ${Math.min(...conns)}-${Math.max(...conns)} connection(s) per measurement for ${input.clients} client(s); ` +
      `${Math.min(...windows.map((w) => w.scrapes))}-${Math.max(...windows.map((w) => w.scrapes))} scrapes per window of ${
        median(windows.map((w) => w.bytesPerScrape)).toFixed(0)
      } bytes (median)`,
  );
  notes.push(
    `CPU % of one core, median over all windows: runner ${fmtPct(median(windows.map((w) => w.runnerCpuShare)))}, ` +
      `client (this bench) ${fmtPct(median(windows.map((w) => w.clientCpuShare)))}, other processes ${fmtPct(median(windows.map((w) => w.otherCpuShare)))}`,
  );
  const withErrors = all.filter((m) => m.errors > 0);
  if (withErrors.length > 0) {
    notes.push(`${withErrors.length} measurement(s) had failed scrapes, first: ${withErrors[0]?.firstError ?? '?'}`);
  }
  const busy = windows.filter((w) => w.otherCpuShare > OTHER_CPU_WARN_SHARE);
  if (busy.length > 0) {
    notes.push(
      `in ${busy.length} of ${windows.length} window(s) other processes on the machine used more than ${fmtPct(OTHER_CPU_WARN_SHARE)} of a core ` +
        `(up to ${fmtPct(Math.max(...busy.map((w) => w.otherCpuShare)))}): the ratios of those rounds measure that interference as much as the profilers`,
    );
  }
  const unclean = all.filter((m) => m.exit !== 'code 0');
  if (unclean.length > 0) notes.push(`${unclean.length} runner(s) did not exit cleanly on SIGTERM: ${unclean.map((m) => m.exit).join(', ')}`);
  return notes;
}
