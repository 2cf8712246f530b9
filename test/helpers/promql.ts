// PromQL read with the Prometheus team's Lezer grammar (the one Prometheus's
// own web UI uses): syntax errors and the metric names a query selects.
import { parser } from '@prometheus-io/lezer-promql';

/**
 * Parses a query (variables substituted) with the Prometheus team's Lezer
 * grammar; returns the syntax errors as text and the metric names its vector
 * selectors name (the Identifier directly under a VectorSelector).
 */
export function parsePromQL(expr: string): { errors: string[]; metrics: string[]; nameMatchers: number } {
  const errors: string[] = [];
  const metrics: string[] = [];
  let nameMatchers = 0;
  parser.parse(expr).iterate({
    enter(node) {
      const text = expr.slice(node.from, node.to);
      if (node.type.isError) errors.push(`syntax error at ${node.from}: "${text}"`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.push(text);
      if (node.name === 'LabelName' && text === '__name__') nameMatchers++;
    },
  });
  return { errors, metrics, nameMatchers };
}
