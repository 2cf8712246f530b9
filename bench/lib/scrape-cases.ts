// The cases of the scrape bench, and the figures its measuring process (scrape-measure.ts) hands
// back to bench/scrape.ts as one JSON line.

import type { RuntimeName } from './runtimes.ts';
import type { SubjectName, TextFacts } from './scrape-subjects.ts';

/** In this order, each case adding its extra metrics to those of the one before. */
export const CASES: readonly { readonly name: string; readonly extraMetrics: number }[] = [
  { name: 'default', extraMetrics: 0 },
  { name: '+1k series', extraMetrics: 1 },
  { name: '+10k series', extraMetrics: 10 },
];

export interface SubjectFigures {
  readonly scrapesPerRun: number;
  /** One figure per run, in run order. */
  readonly msPerScrape: number[];
}

export interface AllocationFigures {
  /** One figure per kept batch, in batch order. */
  readonly bytesPerScrape: number[];
  /** Scrapes in the last batch (batches halve after a reading a collection spoilt). */
  readonly scrapesPerBatch: number;
  /** Readings discarded because a garbage collection ran during them. */
  readonly discarded: number;
  /** The kinds of those collections. */
  readonly collections: string[];
}

export interface CaseResult {
  readonly name: string;
  readonly facts: Record<SubjectName, TextFacts>;
  readonly time?: Record<SubjectName, SubjectFigures>;
  readonly allocation?: Record<SubjectName, AllocationFigures>;
}

export interface MeasureResult {
  readonly runtime: RuntimeName;
  readonly version: string;
  readonly mode: 'time' | 'alloc';
  readonly loadBefore: number[];
  loadAfter: number[];
  /** CPU time of other processes during the measurement, share of one core (Linux). */
  otherCpuShare?: number;
  allocationMethod?: string;
  allocationUnavailable?: string;
  readonly cases: CaseResult[];
}
