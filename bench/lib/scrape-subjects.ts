// What the scrape bench scrapes, built side by side in one process:
//   runner       a Telemetry with every metric `runner run` registers (agentWithMetrics, the
//                CLI's own wiring) around an idle agent with the built-in default configuration
//                (one local runner, no jobs run yet, not started: no polling); no profilers.
//                A scrape is what GET /metrics does without the socket: collect(), then
//                prometheus() of that collection (openMetrics() with the OpenMetrics format).
//   prom-client  collectDefaultMetrics() on a fresh Registry; a scrape is `await registry.metrics()`
//                (a Registry of OpenMetrics' content type with the OpenMetrics format).
// Both get the same extra series: counters bench_extra_<m>_total, each with one label `series`
// taking EXTRA_SERIES_PER_METRIC values s0, s1, ..., the value of series sJ being J % 10 + 1.

import { collectDefaultMetrics, Counter, Registry, type RegistryContentType } from 'prom-client';
import { tmpdir } from 'node:os';
import { agentWithMetrics } from '../../src/cli/agent-with-metrics.ts';
import { DEFAULT_CONFIG } from '../../src/config/types.ts';
import { Logger } from '../../src/log/logger.ts';
import { Telemetry } from '../../src/telemetry/telemetry.ts';

/** Series per extra metric: under the runner's 4000-series limit per metric. */
export const EXTRA_SERIES_PER_METRIC = 1000;

export type SubjectName = 'runner' | 'prom-client';
/** The exposition a scrape asks for: the text format, or OpenMetrics (what a Prometheus server asks for). */
export type ScrapeFormat = 'prometheus' | 'openmetrics';
export const SUBJECTS: readonly SubjectName[] = ['runner', 'prom-client'];

export interface Subject {
  readonly name: SubjectName;
  /** One scrape: from asking to the exposition text. */
  scrape(): Promise<string>;
  /** Adds extra metric number `index` with its EXTRA_SERIES_PER_METRIC series. */
  addExtraMetric(index: number): void;
}

const extraName = (index: number): string => `bench_extra_${index}`;
const EXTRA_HELP = 'An extra counter of the scrape bench.';
const extraSeries = (j: number): { label: string; value: number } => ({ label: `s${j}`, value: (j % 10) + 1 });

function runnerSubject(format: ScrapeFormat): Subject {
  const telemetry = new Telemetry();
  const quiet = new Logger('info', 'text', { write: () => undefined });
  agentWithMetrics(telemetry, DEFAULT_CONFIG, tmpdir(), quiet, 's_000000000000');
  return {
    name: 'runner',
    // As the /metrics route does it (src/server/routes/metrics.ts).
    scrape: format === 'prometheus' ? async () => (await telemetry.collect()).prometheus() : async () => (await telemetry.collect()).openMetrics(),
    addExtraMetric(index) {
      // The exporter adds `_total` to a counter's name.
      const counter = telemetry.meter.createCounter(extraName(index), { description: EXTRA_HELP });
      for (let j = 0; j < EXTRA_SERIES_PER_METRIC; j++) {
        const { label, value } = extraSeries(j);
        counter.add(value, { series: label });
      }
    },
  };
}

function promClientSubject(format: ScrapeFormat): Subject {
  const registry = new Registry<RegistryContentType>();
  if (format === 'openmetrics') registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  collectDefaultMetrics({ register: registry });
  return {
    name: 'prom-client',
    scrape: () => registry.metrics(),
    addExtraMetric(index) {
      const counter = new Counter({ name: `${extraName(index)}_total`, help: EXTRA_HELP, labelNames: ['series'], registers: [registry] });
      for (let j = 0; j < EXTRA_SERIES_PER_METRIC; j++) {
        const { label, value } = extraSeries(j);
        counter.inc({ series: label }, value);
      }
    },
  };
}

export function makeSubjects(format: ScrapeFormat = 'prometheus'): Record<SubjectName, Subject> {
  return { runner: runnerSubject(format), 'prom-client': promClientSubject(format) };
}

export interface TextFacts {
  /** Sample lines (neither comments nor blank). */
  readonly samples: number;
  /** Samples of the extra metrics. */
  readonly extraSamples: number;
  /** Length of the text in UTF-16 code units (the texts are ASCII: bytes). */
  readonly length: number;
}

export function textFacts(text: string): TextFacts {
  let samples = 0;
  let extraSamples = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    samples++;
    if (/^bench_extra_\d+_total\{series="s\d+"\} \d+$/.test(line)) extraSamples++;
  }
  return { samples, extraSamples, length: text.length };
}
