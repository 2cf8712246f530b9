// Metrics of what finished jobs' artifact and cache stages moved, from
// JobResult.transfers: bytes and durations by direction and result, cache
// restores by outcome, artifact failures by reason. Every label value comes
// from a fixed list here or in job/transfer.ts, never from the job.
import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import type { FinishedJob } from '../job/status.ts';
import { TRANSFER_FAILURES, type TransferRecord } from '../job/transfer.ts';

export const TRANSFER_DIRECTIONS = ['upload', 'download'] as const;
export const TRANSFER_RESULTS = ['success', 'failure'] as const;
/** A restore's outcome: the key's archive, a fallback key's, none, or one found but not restored. */
export const CACHE_RESTORE_RESULTS = ['hit', 'fallback_hit', 'miss', 'failure'] as const;
/** The failure reasons artifact transfers are counted under: TRANSFER_FAILURES, and a catch-all for a record without one. */
export const COUNTED_TRANSFER_FAILURES = [...TRANSFER_FAILURES, 'unknown'] as const;

/**
 * Seconds: an artifact or cache archive moves within a second when small and
 * local, and over many minutes for gigabytes to a distant coordinator.
 */
const TRANSFER_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface TransferMetrics {
  jobFinished(job: FinishedJob): void;
  /**
   * Starts a runner's counters at 0 (each direction, result, outcome and
   * reason), so that rate() and increase() see their first event.
   */
  remember(runner: string): void;
}

interface KindInstruments {
  readonly bytes: Counter;
  readonly duration: Histogram;
}

export function registerTransferMetrics(meter: Meter): TransferMetrics {
  const kinds: Record<TransferRecord['kind'], KindInstruments> = {
    artifact: {
      bytes: meter.createCounter('ci_runner_artifact_bytes_total', {
        description: 'Bytes of artifact archives uploaded and downloaded, by runner, direction and result.',
      }),
      duration: meter.createHistogram('ci_runner_artifact_transfer_duration_seconds', {
        description: 'Durations of artifact archive uploads and downloads in seconds, by runner, direction and result.',
        advice: { explicitBucketBoundaries: TRANSFER_DURATION_BUCKETS },
      }),
    },
    cache: {
      bytes: meter.createCounter('ci_runner_cache_bytes_total', {
        description: 'Bytes of cache archives saved (upload) and restored (download), by runner, direction and result.',
      }),
      duration: meter.createHistogram('ci_runner_cache_transfer_duration_seconds', {
        description: 'Durations of cache archive saves (upload) and restores (download) in seconds, by runner, direction and result.',
        advice: { explicitBucketBoundaries: TRANSFER_DURATION_BUCKETS },
      }),
    },
  };
  const restores = meter.createCounter('ci_runner_cache_restores_total', {
    description: 'Cache restores, by runner and result: hit, fallback_hit, miss or failure.',
  });
  const failures = meter.createCounter('ci_runner_artifact_transfer_failures_total', {
    description: 'Artifact uploads and downloads that failed, by runner, direction and reason.',
  });

  return {
    jobFinished({ runner, result }) {
      for (const record of result.transfers) {
        const labels = { runner, direction: record.direction, result: record.result };
        const { bytes, duration } = kinds[record.kind];
        const restore = record.kind === 'cache' && record.direction === 'download' ? restoreResult(record) : undefined;
        if (restore !== undefined) restores.add(1, { runner, result: restore });
        // A miss moves nothing: timing it would fill the lowest bucket with lookups.
        if (restore === 'miss') continue;
        bytes.add(nonNegative(record.bytes), labels);
        duration.record(nonNegative(record.seconds), labels);
        if (record.kind === 'artifact' && record.result === 'failure') {
          failures.add(1, { runner, direction: record.direction, reason: record.failure ?? 'unknown' });
        }
      }
    },

    remember(runner) {
      for (const direction of TRANSFER_DIRECTIONS) {
        for (const result of TRANSFER_RESULTS) {
          kinds.artifact.bytes.add(0, { runner, direction, result });
          kinds.cache.bytes.add(0, { runner, direction, result });
        }
        for (const reason of COUNTED_TRANSFER_FAILURES) failures.add(0, { runner, direction, reason });
      }
      for (const result of CACHE_RESTORE_RESULTS) restores.add(0, { runner, result });
    },
  };
}

/**
 * What a restore_cache record counts as: a failed restore is `failure`
 * whatever it found; a successful one says hit, fallback_hit or miss (one
 * that does not say moved an archive when it moved bytes).
 */
function restoreResult(record: TransferRecord): (typeof CACHE_RESTORE_RESULTS)[number] {
  if (record.result === 'failure') return 'failure';
  return record.cache ?? (record.bytes > 0 ? 'hit' : 'miss');
}

/** A counter refuses negative values (the SDK drops them with a warning); NaN is no amount either. */
function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
