// Standard Prometheus process metrics (the names client_golang and prom-client
// use), observed from the scrape's shared readings. Values the platform cannot
// give (no /proc outside Linux) are absent, never zero.
import type { Meter } from '@opentelemetry/api';
import { readStatusMemory } from '../system/proc-stat.ts';
import { onScrape } from './scrape-context.ts';

// Computed once, as prom-client does: the process start in Unix seconds.
const START_TIME_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

/** Registers the process_* metrics; returns the function that stops observing them. */
export function registerProcessMetrics(meter: Meter): () => void {
  const hasProc = readStatusMemory('self') !== undefined;
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
      heap: gauge('process_heap_bytes', "Process heap size in bytes: the data segment (VmData), which holds the runtime's heaps."),
      openFds: gauge('process_open_fds', 'Number of open file descriptors.'),
      maxFds: gauge('process_max_fds', 'Maximum number of open file descriptors.'),
    }
    : undefined;

  return onScrape(
    meter,
    proc ? ['memory', 'fds'] : ['memory'],
    [cpu, cpuUser, cpuSystem, start, rss, ...(proc ? Object.values(proc) : [])],
    (context, result) => {
      const { user, system } = context.cpu;
      result.observe(cpu, (user + system) / 1e6);
      result.observe(cpuUser, user / 1e6);
      result.observe(cpuSystem, system / 1e6);
      result.observe(start, START_TIME_SECONDS);
      const memory = context.memory;
      if (memory) result.observe(rss, memory.residentBytes);
      if (!proc) return;
      if (memory?.virtualBytes !== undefined) result.observe(proc.virtual, memory.virtualBytes);
      if (memory?.dataBytes !== undefined) result.observe(proc.heap, memory.dataBytes);
      if (context.openFds !== undefined) result.observe(proc.openFds, context.openFds);
      if (context.maxFds !== undefined) result.observe(proc.maxFds, context.maxFds);
    },
  );
}
