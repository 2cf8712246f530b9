// Standard Prometheus process metrics (the names client_golang and prom-client
// use). Values the platform cannot give (no /proc outside Linux) are absent,
// never zero.
import { readdirSync, readFileSync } from 'node:fs';
import type { Meter } from '@opentelemetry/api';

// Computed once, as prom-client does: the process start in Unix seconds.
const START_TIME_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

function readProcFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function statusKiB(status: string, key: string): number | undefined {
  const match = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Soft limit of "Max open files" from /proc/self/limits; undefined when unlimited or unknown. */
function maxOpenFiles(): number | undefined {
  const limits = readProcFile('/proc/self/limits');
  const match = limits?.match(/^Max open files\s+(\d+)/m);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function openFileCount(): number | undefined {
  try {
    // readdir opens the directory itself, which holds one descriptor while listing.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

export function registerProcessMetrics(meter: Meter): void {
  const hasProc = readProcFile('/proc/self/status') !== undefined;
  const counter = (name: string, description: string) => meter.createObservableCounter(name, { description });
  const gauge = (name: string, description: string) => meter.createObservableGauge(name, { description });

  const cpu = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const cpuUser = counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.');
  const cpuSystem = counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
  const start = gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
  const rss = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  // Linux only: without /proc these metrics do not exist rather than read 0.
  const proc = hasProc
    ? {
        virtual: gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.'),
        openFds: gauge('process_open_fds', 'Number of open file descriptors.'),
        maxFds: gauge('process_max_fds', 'Maximum number of open file descriptors.'),
      }
    : undefined;

  meter.addBatchObservableCallback(
    (result) => {
      const usage = process.cpuUsage();
      result.observe(cpu, (usage.user + usage.system) / 1e6);
      result.observe(cpuUser, usage.user / 1e6);
      result.observe(cpuSystem, usage.system / 1e6);
      result.observe(start, START_TIME_SECONDS);
      const status = proc ? readProcFile('/proc/self/status') : undefined;
      result.observe(rss, (status === undefined ? undefined : statusKiB(status, 'VmRSS')) ?? process.memoryUsage.rss());
      if (!proc) return;
      const vsize = status === undefined ? undefined : statusKiB(status, 'VmSize');
      if (vsize !== undefined) result.observe(proc.virtual, vsize);
      const open = openFileCount();
      if (open !== undefined) result.observe(proc.openFds, open);
      const max = maxOpenFiles();
      if (max !== undefined) result.observe(proc.maxFds, max);
    },
    [cpu, cpuUser, cpuSystem, start, rss, ...(proc ? Object.values(proc) : [])],
  );
}
