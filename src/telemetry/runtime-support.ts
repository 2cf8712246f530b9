// Which runtime measures which process and runtime metric: the one list that
// the registration of those metrics follows (runtime-metrics.ts) and that
// docs/metrics.md's table is checked against. Why a runtime cannot measure
// something is said in that table; runtime/runtime.ts is how each one measures.
import { runtime, type RuntimeName } from '../runtime/runtime.ts';

export type Support = Readonly<Record<RuntimeName, boolean>>;
const ALL: Support = { node: true, bun: true, deno: true };
const NOT_BUN: Support = { node: true, bun: false, deno: true };
const NODE_ONLY: Support = { node: true, bun: false, deno: false };

/** Metric family -> whether each runtime has it. */
export const RUNTIME_METRIC_SUPPORT: Readonly<Record<string, Support>> = {
  process_cpu_seconds_total: ALL,
  process_cpu_user_seconds_total: ALL,
  process_cpu_system_seconds_total: ALL,
  process_start_time_seconds: ALL,
  process_resident_memory_bytes: ALL,
  process_virtual_memory_bytes: ALL,
  process_heap_bytes: ALL,
  process_open_fds: ALL,
  process_max_fds: ALL,
  nodejs_version_info: ALL,
  nodejs_eventloop_lag_seconds: ALL,
  nodejs_eventloop_lag_min_seconds: ALL,
  nodejs_eventloop_lag_max_seconds: ALL,
  nodejs_eventloop_lag_mean_seconds: ALL,
  nodejs_eventloop_lag_stddev_seconds: ALL,
  nodejs_eventloop_lag_p50_seconds: ALL,
  nodejs_eventloop_lag_p90_seconds: ALL,
  nodejs_eventloop_lag_p99_seconds: ALL,
  nodejs_heap_size_used_bytes: ALL,
  nodejs_external_memory_bytes: ALL,
  nodejs_heap_size_total_bytes: NOT_BUN,
  nodejs_heap_space_size_total_bytes: NOT_BUN,
  nodejs_heap_space_size_used_bytes: NOT_BUN,
  nodejs_heap_space_size_available_bytes: NOT_BUN,
  nodejs_active_resources: NOT_BUN,
  nodejs_active_resources_total: NOT_BUN,
  nodejs_active_handles: NOT_BUN,
  nodejs_active_handles_total: NOT_BUN,
  nodejs_active_requests: NODE_ONLY,
  nodejs_active_requests_total: NODE_ONLY,
  nodejs_gc_duration_seconds: NODE_ONLY,
};

/** Families a scrape shows only once there is something to show. */
export const SHOWN_WHEN_SEEN: Readonly<Record<string, string>> = {
  nodejs_gc_duration_seconds: 'after the first garbage collection',
  nodejs_active_requests: 'while a request is in flight',
};

/** Whether this runtime (or `on`) has the metric family. */
export function measures(family: string, on: RuntimeName = runtime.name): boolean {
  return RUNTIME_METRIC_SUPPORT[family]?.[on] === true;
}
