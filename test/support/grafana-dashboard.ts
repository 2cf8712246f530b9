// deploy/grafana/runner-dashboard.json read as Grafana reads it: the parts of
// its model the tests use, its queries with the dashboard variables
// substituted, and the metric names they select.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/version.ts';
import { parsePromQL } from './promql.ts';

export const DASHBOARD = join(packageRoot(), 'deploy', 'grafana', 'runner-dashboard.json');

// ---------------------------------------------------------------------------
// The parts of Grafana's dashboard model the test reads

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}
export interface Datasource {
  type?: string;
  uid?: string;
}
export interface Target {
  refId?: string;
  expr?: string;
  datasource?: Datasource;
  /** Grafana asks Prometheus for the exemplars of the query's series too. */
  exemplar?: boolean;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  datasource?: Datasource;
  /** The panel's minimum interval: $__interval and so $__rate_interval are never shorter. */
  interval?: string;
  collapsed?: boolean;
  panels?: Panel[];
  targets?: Target[];
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: { properties?: { id: string; value?: unknown }[] }[];
  };
}
export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: Datasource;
  current?: { value?: unknown };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}
export interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  __requires: { type: string; id: string }[];
  title: string;
  uid: string;
  id: null;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

export const loadDashboard = (path: string): Dashboard => JSON.parse(readFileSync(path, 'utf8')) as Dashboard;

export const dashboard = loadDashboard(DASHBOARD);

/** Every panel: the top-level ones, and those inside collapsed rows. */
export const allPanels = (board = dashboard): Panel[] => board.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);

/** The panels that query: every one but the rows. */
export const queryPanels = (board = dashboard): Panel[] => allPanels(board).filter((panel) => panel.type !== 'row');

/** The one datasource reference every panel, target and query variable uses. */
export const PANEL_DATASOURCE: Datasource = { type: 'prometheus', uid: '${datasource}' };

/**
 * Grafana's built-in variables that the queries may use, and the value each
 * gets here. $__rate_interval is max($__interval + scrape interval, 4 x scrape
 * interval): about 1m at a 15 s scrape, or more on a panel with a minimum interval.
 */
export const BUILT_INS: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '30s',
  __range: '1h',
};

/**
 * Grafana unit ids, as its unit picker lists them: a subset of the ids of
 * packages/grafana-data/src/valueFormats/categories.ts (categories Misc, Data,
 * Data rate, Date & time, Time and Throughput). Grafana shows a value with an
 * unknown id as a bare number with the id pasted after it, silently.
 */
export const GRAFANA_UNITS: readonly string[] = [
  'none',
  'string',
  'short',
  'percent',
  'percentunit',
  'locale',
  'sci',
  'hex',
  'hex0x',
  'bits',
  'bytes',
  'kbytes',
  'mbytes',
  'gbytes',
  'decbits',
  'decbytes',
  'deckbytes',
  'decmbytes',
  'decgbytes',
  'bps',
  'Bps',
  'pps',
  'dateTimeAsIso',
  'dateTimeAsIsoNoDateIfToday',
  'dateTimeAsUS',
  'dateTimeFromNow',
  'hertz',
  'ns',
  'µs',
  'ms',
  's',
  'm',
  'h',
  'd',
  'dtdurationms',
  'dtdurations',
  'dthms',
  'dtdhms',
  'clockms',
  'clocks',
  'cps',
  'ops',
  'reqps',
  'rps',
  'wps',
  'iops',
  'cpm',
  'opm',
  'rpm',
  'wpm',
];

/** `$name`, `${name}` and `${name:format}`. */
export const VARIABLE = /\$\{(\w+)(?::\w+)?\}|\$(\w+)/g;

export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(VARIABLE)].map((match) => match[1] ?? match[2]!);
}

/**
 * What Grafana would send for each variable: a multi-value or "All" variable
 * becomes a regular expression (its allValue, `.*`), used with `=~` as every
 * query does; `job` a single Prometheus job name (deploy/prometheus/prometheus.yml's).
 */
export function valueOf(variable: Variable): string {
  if (variable.multi === true || variable.includeAll === true) return variable.allValue ?? '.*';
  if (variable.name === 'job') return 'runner';
  throw new Error(`no test value for the dashboard variable ${variable.name}`);
}

export function substitute(expr: string, board = dashboard): string {
  const values = new Map(board.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, valueOf(v)]));
  return expr.replace(VARIABLE, (whole: string, braced: string | undefined, plain: string | undefined) => {
    const name = braced ?? plain!;
    const value = BUILT_INS[name] ?? values.get(name);
    if (value === undefined) throw new Error(`${whole} in ${expr} is not a dashboard variable`);
    return value;
  });
}

export interface Query {
  /** The recording rule it becomes: dashboard:panel_<id>_<n> or dashboard:variable_<name>. */
  readonly record: string;
  readonly where: string;
  /** As written in the dashboard, with its variables. */
  readonly expr: string;
}

/** `label_values(metric{selector}, label)`: the series selector, and the label. */
export function labelValues(definition: string): { selector: string; label: string } {
  const match = /^label_values\((.+),\s*(\w+)\)$/.exec(definition.trim());
  assert.ok(match, `a query variable that is not label_values(selector, label): ${definition}`);
  return { selector: match[1]!, label: match[2]! };
}

export function variableDefinition(variable: Variable): string {
  return variable.definition ?? (typeof variable.query === 'string' ? variable.query : variable.query?.query) ?? '';
}

/** Every query of the dashboard: panel targets, and the selectors of its query variables. */
export function queries(board = dashboard): Query[] {
  const fromPanels = queryPanels(board).flatMap((panel) =>
    (panel.targets ?? []).map((target, n) => ({
      record: `dashboard:panel_${panel.id}_${n + 1}`,
      where: `panel ${panel.id} "${panel.title}" target ${target.refId ?? n + 1}`,
      expr: target.expr ?? '',
    }))
  );
  const fromVariables = board.templating.list.filter((v) => v.type === 'query').map((variable) => ({
    record: `dashboard:variable_${variable.name}`,
    where: `variable ${variable.name}`,
    expr: labelValues(variableDefinition(variable)).selector,
  }));
  return [...fromPanels, ...fromVariables];
}

/** Every metric name the dashboard queries, sorted, once each. */
export function dashboardMetrics(board = dashboard): string[] {
  return [...new Set(queries(board).flatMap((query) => parsePromQL(substitute(query.expr, board)).metrics))].sort();
}
