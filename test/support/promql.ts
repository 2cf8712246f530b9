// PromQL read with the Prometheus team's Lezer grammar (the one Prometheus's
// own web UI uses): syntax errors, the metric names a query selects, the label
// matchers of each selector and the label names of each grouping.
import { parser } from '@prometheus-io/lezer-promql';

type Node = ReturnType<typeof parser.parse>['topNode'];

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One label matcher of a vector selector: `label op "value"`. */
export interface LabelMatcher {
  /** The selector's metric name; undefined for a selector without one (`{job="x"}`). */
  readonly metric: string | undefined;
  readonly label: string;
  readonly op: MatchOp;
  /** The value, unquoted: a regular expression for =~ and !~. */
  readonly value: string;
}

/** by and without of an aggregation; on, ignoring, group_left and group_right of a binary operation. */
export type GroupingModifier = 'by' | 'without' | 'on' | 'ignoring' | 'group_left' | 'group_right';

/** One list of label names in a query, such as the `(instance, runner)` of `sum by (instance, runner) (...)`. */
export interface Grouping {
  readonly modifier: GroupingModifier;
  readonly labels: readonly string[];
  /**
   * The metric names the modifier applies to: those of the aggregation's
   * argument (by, without), or of both sides of the binary operation (on,
   * ignoring, group_left, group_right).
   */
  readonly metrics: readonly string[];
}

export interface ParsedPromQL {
  readonly errors: string[];
  /** The metric names of the vector selectors (the Identifier directly under a VectorSelector), in order. */
  readonly metrics: string[];
  /** Selectors that name their metric by a matcher: `{__name__="x"}`, or `{"x"}`. */
  readonly nameMatchers: number;
  readonly matchers: LabelMatcher[];
  readonly groupings: Grouping[];
}

const MODIFIERS: Readonly<Record<string, GroupingModifier>> = {
  By: 'by',
  Without: 'without',
  On: 'on',
  Ignoring: 'ignoring',
  GroupLeft: 'group_left',
  GroupRight: 'group_right',
};

/** A PromQL string literal's value: raw between backquotes, with backslash escapes between ' or ". */
function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  if (literal.startsWith('`')) return body;
  return body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[c] ?? c);
}

/** A LabelName's text, or a QuotedLabelName's value. */
function labelName(node: Node, expr: string): string {
  const literal = node.name === 'QuotedLabelName' ? node.getChild('StringLiteral') : null;
  return literal ? unquote(expr.slice(literal.from, literal.to)) : expr.slice(node.from, node.to);
}

/** The metric names of the vector selectors at or below a node. */
function metricsUnder(node: Node, expr: string): string[] {
  const names: string[] = [];
  const walk = (at: Node): void => {
    if (at.name === 'Identifier' && at.parent?.name === 'VectorSelector') names.push(expr.slice(at.from, at.to));
    for (let child = at.firstChild; child; child = child.nextSibling) walk(child);
  };
  walk(node);
  return names;
}

/**
 * Parses a query (variables substituted) with the Prometheus team's Lezer
 * grammar: its syntax errors as text, the metric names its vector selectors
 * name, their label matchers, and the label names of its groupings.
 */
export function parsePromQL(expr: string): ParsedPromQL {
  const errors: string[] = [];
  const metrics: string[] = [];
  const matchers: LabelMatcher[] = [];
  const groupings: Grouping[] = [];
  let nameMatchers = 0;
  const text = (node: { from: number; to: number }): string => expr.slice(node.from, node.to);
  parser.parse(expr).iterate({
    enter(ref) {
      const node = ref.node;
      if (ref.type.isError) errors.push(`syntax error at ${ref.from}: "${text(ref)}"`);
      switch (ref.name) {
        case 'VectorSelector': {
          const identifier = node.getChild('Identifier');
          const metric = identifier ? text(identifier) : undefined;
          if (metric !== undefined) metrics.push(metric);
          for (let child = node.getChild('LabelMatchers')?.firstChild ?? null; child; child = child.nextSibling) {
            // A quoted name alone, {"metric"}, is the metric's name.
            if (child.name === 'QuotedLabelName') {
              nameMatchers++;
              continue;
            }
            if (child.name !== 'UnquotedLabelMatcher' && child.name !== 'QuotedLabelMatcher') continue;
            const name = child.getChild('LabelName') ?? child.getChild('QuotedLabelName');
            const op = child.getChild('MatchOp');
            const value = child.getChild('StringLiteral');
            if (!name || !op || !value) continue; // a syntax error, reported as such
            const label = labelName(name, expr);
            if (label === '__name__') nameMatchers++;
            matchers.push({ metric, label, op: text(op) as MatchOp, value: unquote(text(value)) });
          }
          break;
        }
        case 'AggregateModifier':
        case 'MatchingModifierClause': {
          // The keyword before each list says what it is: by (...), on (...) group_left (...).
          const scope = node.parent ? metricsUnder(node.parent, expr) : [];
          let modifier: GroupingModifier | undefined;
          for (let child = node.firstChild; child; child = child.nextSibling) {
            if (child.name in MODIFIERS) modifier = MODIFIERS[child.name];
            if (child.name === 'GroupingLabels' && modifier !== undefined) {
              const labels: string[] = [];
              for (let label = child.firstChild; label; label = label.nextSibling) {
                if (label.name === 'LabelName' || label.name === 'QuotedLabelName') labels.push(labelName(label, expr));
              }
              groupings.push({ modifier, labels, metrics: scope });
            }
          }
          break;
        }
      }
    },
  });
  return { errors, metrics, nameMatchers, matchers, groupings };
}
