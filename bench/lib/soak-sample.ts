// One sample of a soaked runner's memory: VmRSS of its process from /proc (the figure that
// matters to an operator), and the runner's own process metrics from a scrape of its /metrics
// (its RSS again as a cross-check, V8's or JavaScriptCore's heap, external memory, open fds), with
// the jobs finished and its CPU so far.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getOnce, type RunnerProcess } from '../../test/support/runner-process.ts';

export interface Sample {
  /** Minutes since the load started. */
  readonly t: number;
  /** Bytes; NaN when not read. */
  readonly vmRss: number;
  readonly metricsRss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly openFds: number;
  /** Results in done/ (jobs finished, ok or not). */
  readonly jobsDone: number;
  readonly jobsSubmitted: number;
  readonly scrapesOk: number;
  /** The runner's CPU so far, seconds. */
  readonly cpuSeconds: number;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** The value of an unlabelled sample `name` in a Prometheus text exposition; NaN when absent (a runtime that does not measure it). */
export function gauge(body: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return match === null ? NaN : Number(match[1]);
}

/** The results in the queue's done/: one ID.json per finished job. */
export async function countResults(queueDir: string): Promise<number> {
  return (await readdir(join(queueDir, 'done')).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).length;
}

export async function takeSample(
  runner: RunnerProcess,
  queueDir: string,
  t: number,
  load: { readonly jobsSubmitted: number; readonly scrapesOk: number },
): Promise<Sample> {
  const vmRss = runner.memory()?.residentBytes ?? NaN;
  const cpu = runner.cpuTicks();
  let body = '';
  try {
    const answer = await getOnce(new URL(`${runner.url}/metrics`), 10_000);
    if (answer.status === 200) body = answer.body;
  } catch {
    // a missed sample's metrics are NaN; its VmRSS still counts
  }
  return {
    t,
    vmRss,
    metricsRss: gauge(body, 'process_resident_memory_bytes'),
    heapUsed: gauge(body, 'nodejs_heap_size_used_bytes'),
    heapTotal: gauge(body, 'nodejs_heap_size_total_bytes'),
    external: gauge(body, 'nodejs_external_memory_bytes'),
    openFds: gauge(body, 'process_open_fds'),
    jobsDone: await countResults(queueDir),
    ...load,
    cpuSeconds: cpu === undefined ? NaN : cpu / CLOCK_TICKS_PER_SECOND,
  };
}

const MiB = 1024 * 1024;

/** The samples as CSV, memory in MiB. */
export function samplesCsv(samples: readonly Sample[]): string {
  const header = 't_min,vmrss_mib,metrics_rss_mib,heap_used_mib,heap_total_mib,external_mib,open_fds,jobs_submitted,jobs_done,scrapes_ok,cpu_s';
  const rows = samples.map((s) =>
    [
      s.t.toFixed(3),
      ...[s.vmRss, s.metricsRss, s.heapUsed, s.heapTotal, s.external].map((bytes) => (bytes / MiB).toFixed(2)),
      s.openFds,
      s.jobsSubmitted,
      s.jobsDone,
      s.scrapesOk,
      s.cpuSeconds.toFixed(2),
    ].join(',')
  );
  return [header, ...rows].join('\n') + '\n';
}
