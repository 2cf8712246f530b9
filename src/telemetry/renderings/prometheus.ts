// The Prometheus text exposition (format 0.0.4), by the exporter's own
// serializer: plain names, no otel_scope_* labels and no target_info, as
// Prometheus users expect.
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';

const serializer = new PrometheusSerializer('', false, undefined, true, true);

export function renderPrometheus(resourceMetrics: ResourceMetrics): string {
  return serializer.serialize(resourceMetrics);
}
