// Gauges show what their callbacks observed at this collection, nothing more.
//
// With cumulative temporality (what the Prometheus exporter asks for, for
// every instrument) the OpenTelemetry SDK keeps every series a gauge has
// ever observed and reports its last value forever
// (open-telemetry/opentelemetry-js#4096): a runner removed by SIGHUP would
// keep its ci_runner_limit, ci_runner_builds, ... until a restart, and stay
// in every dashboard's runner list. A gauge has no temporality of its own (a
// last value is the same over any window), so asking for delta changes only
// which series are reported: those observed in this collection. Counters and
// histograms stay cumulative.
import { AggregationTemporality, InstrumentType, type MetricReader } from '@opentelemetry/sdk-metrics';

const GAUGES: ReadonlySet<InstrumentType> = new Set([InstrumentType.OBSERVABLE_GAUGE, InstrumentType.GAUGE]);

/** Makes `reader` report each gauge's series observed at this collection only; call before the reader joins a MeterProvider. */
export function reportObservedGaugesOnly(reader: MetricReader): void {
  const others = reader.selectAggregationTemporality.bind(reader);
  reader.selectAggregationTemporality = (type: InstrumentType): AggregationTemporality => (GAUGES.has(type) ? AggregationTemporality.DELTA : others(type));
}
