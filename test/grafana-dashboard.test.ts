// deploy/grafana/runner-dashboard.json: a Grafana dashboard model that imports
// through the UI and loads from file provisioning, whose every query is PromQL
// that Prometheus accepts (promtool and the Prometheus team's Lezer grammar),
// and whose every metric name the real runner serves after jobs have run, but
// for `up` (Prometheus's own) and the runtime metrics the README table says
// this runtime does not have. Against the same scrape, the label names its
// queries and the alert rules' select and group by, and the values they match
// by equality. Grafana itself is not run: the test reads the JSON as Grafana would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BUILD_STAGES } from '../src/executors/stages.ts';
import { runtime } from '../src/runtime/runtime.ts';
import { enqueue, waitForResult } from '../src/sources/local/queue.ts';
import { packageRoot } from '../src/version.ts';
import { TestCoordinator } from './helpers/gitlab-coordinator.ts';
import { parsePromQL } from './helpers/promql.ts';
import { promtool } from './helpers/promtool.ts';
import { startRunner } from './helpers/runner-process.ts';
import { families, TABLE } from './helpers/runtime-table.ts';
import { skipUnless } from './helpers/tools.ts';

const DASHBOARD = join(packageRoot(), 'deploy', 'grafana', 'runner-dashboard.json');

// ---------------------------------------------------------------------------
// The parts of Grafana's dashboard model the test reads

interface GridPos { h: number; w: number; x: number; y: number }
interface Datasource { type?: string; uid?: string }
interface Target { refId?: string; expr?: string; datasource?: Datasource }
interface Panel {
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
interface Variable {
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
interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  __requires: { type: string; id: string }[];
  title: string;
  uid: string;
  id: null;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every panel: the top-level ones, and those inside collapsed rows. */
const allPanels = (): Panel[] => dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);

/** The panels that query: every one but the rows. */
const queryPanels = (): Panel[] => allPanels().filter((panel) => panel.type !== 'row');

/** The one datasource reference every panel, target and query variable uses. */
const PANEL_DATASOURCE: Datasource = { type: 'prometheus', uid: '${datasource}' };

/**
 * Grafana's built-in variables that the queries may use, and the value each
 * gets here. $__rate_interval is max($__interval + scrape interval, 4 x scrape
 * interval): about 1m at a 15 s scrape, or more on a panel with a minimum interval.
 */
const BUILT_INS: Readonly<Record<string, string>> = {
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
const GRAFANA_UNITS: readonly string[] = [
  'none', 'string', 'short', 'percent', 'percentunit', 'locale', 'sci', 'hex', 'hex0x',
  'bits', 'bytes', 'kbytes', 'mbytes', 'gbytes', 'decbits', 'decbytes', 'deckbytes', 'decmbytes', 'decgbytes',
  'bps', 'Bps', 'pps',
  'dateTimeAsIso', 'dateTimeAsIsoNoDateIfToday', 'dateTimeAsUS', 'dateTimeFromNow',
  'hertz', 'ns', 'µs', 'ms', 's', 'm', 'h', 'd', 'dtdurationms', 'dtdurations', 'dthms', 'dtdhms', 'clockms', 'clocks',
  'cps', 'ops', 'reqps', 'rps', 'wps', 'iops', 'cpm', 'opm', 'rpm', 'wpm',
];

/** `$name`, `${name}` and `${name:format}`. */
const VARIABLE = /\$\{(\w+)(?::\w+)?\}|\$(\w+)/g;

function variablesIn(expr: string): string[] {
  return [...expr.matchAll(VARIABLE)].map((match) => match[1] ?? match[2]!);
}

/**
 * What Grafana would send for each variable: a multi-value or "All" variable
 * becomes a regular expression (its allValue, `.*`), used with `=~` as every
 * query does; `job` a single Prometheus job name (deploy/prometheus/prometheus.yml's).
 */
function valueOf(variable: Variable): string {
  if (variable.multi === true || variable.includeAll === true) return variable.allValue ?? '.*';
  if (variable.name === 'job') return 'runner';
  throw new Error(`no test value for the dashboard variable ${variable.name}`);
}

function substitute(expr: string): string {
  const values = new Map(dashboard.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, valueOf(v)]));
  return expr.replace(VARIABLE, (whole: string, braced: string | undefined, plain: string | undefined) => {
    const name = braced ?? plain!;
    const value = BUILT_INS[name] ?? values.get(name);
    if (value === undefined) throw new Error(`${whole} in ${expr} is not a dashboard variable`);
    return value;
  });
}

interface Query {
  /** The recording rule it becomes: dashboard:panel_<id>_<n> or dashboard:variable_<name>. */
  readonly record: string;
  readonly where: string;
  /** As written in the dashboard, with its variables. */
  readonly expr: string;
}

/** `label_values(metric{selector}, label)`: the series selector, and the label. */
function labelValues(definition: string): { selector: string; label: string } {
  const match = /^label_values\((.+),\s*(\w+)\)$/.exec(definition.trim());
  assert.ok(match, `a query variable that is not label_values(selector, label): ${definition}`);
  return { selector: match[1]!, label: match[2]! };
}

function variableDefinition(variable: Variable): string {
  return variable.definition ?? (typeof variable.query === 'string' ? variable.query : variable.query?.query) ?? '';
}

/** Every query of the dashboard: panel targets, and the selectors of its query variables. */
function queries(): Query[] {
  const fromPanels = queryPanels().flatMap((panel) => (panel.targets ?? []).map((target, n) => ({
    record: `dashboard:panel_${panel.id}_${n + 1}`,
    where: `panel ${panel.id} "${panel.title}" target ${target.refId ?? n + 1}`,
    expr: target.expr ?? '',
  })));
  const fromVariables = dashboard.templating.list.filter((v) => v.type === 'query').map((variable) => ({
    record: `dashboard:variable_${variable.name}`,
    where: `variable ${variable.name}`,
    expr: labelValues(variableDefinition(variable)).selector,
  }));
  return [...fromPanels, ...fromVariables];
}

/** Every metric name the dashboard queries, sorted, once each. */
function dashboardMetrics(): string[] {
  return [...new Set(queries().flatMap((query) => parsePromQL(substitute(query.expr)).metrics))].sort();
}

// ---------------------------------------------------------------------------
// The model

function overlaps(a: GridPos, b: GridPos): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function assertNoOverlap(panels: readonly Panel[], group: string): void {
  for (const [i, a] of panels.entries()) {
    for (const b of panels.slice(i + 1)) {
      assert.ok(!overlaps(a.gridPos, b.gridPos), `${group}: panels ${a.id} "${a.title}" and ${b.id} "${b.title}" overlap`);
    }
  }
}

test('the dashboard is a Grafana dashboard model that imports through the UI and provisions from a file', () => {
  assert.equal(typeof dashboard.title, 'string');
  assert.ok(dashboard.title.length > 0);
  assert.match(dashboard.uid, /^[\w-]{1,40}$/, 'uid: at most 40 letters, digits, - and _');
  assert.equal(dashboard.id, null, 'an importable dashboard has no database id');
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
  assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length > 0);
  assert.ok(Array.isArray(dashboard.templating.list));

  // One Prometheus data source input for the import dialog. Every panel and
  // query variable follows the `datasource` variable, which starts empty, so
  // that Grafana takes its default Prometheus data source: file provisioning
  // replaces no ${DS_...} reference, and would leave one as it is, naming no
  // data source.
  assert.deepEqual(dashboard.__inputs.map((input) => [input.name, input.type, input.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
  const required = new Set(dashboard.__requires.map((r) => `${r.type}:${r.id}`));
  assert.ok(required.has('grafana:grafana') && required.has('datasource:prometheus'), [...required].join(', '));
  const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
  assert.equal(datasource?.type, 'datasource');
  assert.equal(datasource.query, 'prometheus');
  assert.deepEqual(datasource.current, {}, 'the datasource variable starts empty');
  const inputReferences = JSON.stringify({ ...dashboard, __inputs: [] }).match(/\$\{DS_\w+\}/g) ?? [];
  assert.deepEqual(inputReferences, [], 'import input references, which file provisioning leaves as they are');

  const panels = allPanels();
  const ids = panels.map((panel) => panel.id);
  assert.ok(ids.every((id) => Number.isInteger(id) && id > 0), `panel ids: ${ids.join(', ')}`);
  assert.equal(new Set(ids).size, ids.length, `panel ids are not unique: ${ids.join(', ')}`);

  for (const panel of panels) {
    const where = `panel ${panel.id} "${panel.title}"`;
    assert.ok(typeof panel.title === 'string' && panel.title.length > 0, `${where}: no title`);
    const { x, y, w, h } = panel.gridPos;
    assert.ok([x, y, w, h].every(Number.isInteger) && x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24, `${where}: gridPos ${JSON.stringify(panel.gridPos)}`);
    if (panel.type === 'row') {
      assert.equal(w, 24, `${where}: a row spans the width`);
      if (panel.collapsed !== true) assert.deepEqual(panel.panels ?? [], [], `${where}: an open row holds no panels (they follow it)`);
      continue;
    }
    assert.ok(required.has(`panel:${panel.type}`), `${where}: panel type ${panel.type} is not in __requires`);
    assert.deepEqual(panel.datasource, PANEL_DATASOURCE, `${where}: datasource`);
    const unit = panel.fieldConfig?.defaults?.unit;
    assert.ok(typeof unit === 'string' && GRAFANA_UNITS.includes(unit), `${where}: unit ${unit} is not a Grafana unit id`);
    for (const property of (panel.fieldConfig?.overrides ?? []).flatMap((override) => override.properties ?? []).filter((p) => p.id === 'unit')) {
      assert.ok(typeof property.value === 'string' && GRAFANA_UNITS.includes(property.value), `${where}: an override's unit ${String(property.value)} is not a Grafana unit id`);
    }
    const targets = panel.targets ?? [];
    assert.ok(targets.length > 0, `${where}: no query`);
    assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length, `${where}: refIds not unique`);
    for (const target of targets) {
      assert.ok(typeof target.expr === 'string' && target.expr.trim().length > 0, `${where}: target ${target.refId} has no expr`);
      assert.deepEqual(target.datasource, PANEL_DATASOURCE, `${where}: target ${target.refId} datasource`);
    }
  }

  // Open rows' panels lie on the dashboard together; a collapsed row keeps
  // its panels, laid out below it as they appear when it opens.
  assertNoOverlap(dashboard.panels, 'the dashboard');
  for (const row of dashboard.panels.filter((panel) => panel.type === 'row' && panel.collapsed === true)) {
    assert.ok((row.panels ?? []).length > 0, `collapsed row "${row.title}" is empty`);
    assert.ok((row.panels ?? []).every((panel) => panel.gridPos.y > row.gridPos.y), `row "${row.title}": a panel above the row`);
    assertNoOverlap(row.panels ?? [], `row "${row.title}"`);
  }

  const names = dashboard.templating.list.map((v) => v.name);
  assert.equal(new Set(names).size, names.length, `variable names: ${names.join(', ')}`);
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    assert.deepEqual(variable.datasource, PANEL_DATASOURCE, `variable ${variable.name}: datasource`);
  }
  const undefinedVariables = queries().flatMap((query) =>
    variablesIn(query.expr).filter((name) => !(name in BUILT_INS) && !names.includes(name)).map((name) => `${query.where}: $${name}`));
  assert.deepEqual(undefinedVariables, [], 'variables used in queries but neither defined nor built in');
});

test('the dashboard has the rows and variables of the issue', () => {
  assert.deepEqual(dashboard.panels.filter((panel) => panel.type === 'row').map((row) => row.title), ['Fleet', 'Jobs', 'Coordinator API', 'Process', 'Runtime']);
  const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  assert.deepEqual([...variables.keys()], ['datasource', 'job', 'instance', 'runner']);
  assert.equal(variableDefinition(variables.get('job')!), 'label_values(ci_runner_version_info, job)');
  assert.match(variableDefinition(variables.get('instance')!), /^label_values\(ci_runner_version_info\{job=~"\$job"\}, instance\)$/);
  assert.match(variableDefinition(variables.get('runner')!), /^label_values\(ci_runner_limit\{.*instance=~"\$instance".*\}, runner\)$/);
  for (const name of ['instance', 'runner']) {
    const variable = variables.get(name)!;
    assert.ok(variable.multi === true && variable.includeAll === true && variable.allValue === '.*', `${name}: multi-value with All (.*)`);
  }
  const count = queryPanels().length;
  assert.ok(count >= 25 && count <= 35, `${count} panels besides the rows`);
  // Every rate over a range takes Grafana's $__rate_interval (or the whole $__range).
  const fixedRanges = queries().filter((query) => /\[\s*\d+[smhdwy]\s*\]/.test(query.expr)).map((query) => `${query.where}: ${query.expr}`);
  assert.deepEqual(fixedRanges, [], 'fixed range windows instead of $__rate_interval');
});

/**
 * Counter and histogram families that move once per finished job, or per
 * request about one: at ordinary job rates most 1-minute windows hold none, so
 * a quantile over them is NaN and a ratio flips between 0, 1 and nothing.
 */
const PER_JOB_FAMILIES: readonly string[] = [
  'ci_runner_jobs_total',
  'ci_runner_failed_jobs_total',
  'ci_runner_job_duration_seconds',
  'ci_runner_job_stage_duration_seconds',
  'ci_runner_job_cpu_seconds',
  'ci_runner_job_peak_rss_bytes',
  'ci_runner_api_request_statuses_total',
  'ci_runner_api_request_duration_seconds',
];

/** The minimum interval those panels have: their $__rate_interval is then 5m15s at a 15 s scrape. */
const PER_JOB_MIN_INTERVAL_SECONDS = 300;

/** A Grafana interval such as 30s, 5m or 1h, in seconds. */
function intervalSeconds(interval: string): number {
  const match = /^(\d+)([smhd])$/.exec(interval);
  assert.ok(match, `not an interval: ${interval}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'];
}

test('panels that take rates of per-job counters and histograms have a minimum interval of 5 minutes', () => {
  const family = (name: string): string => name.replace(/_(bucket|sum|count)$/, '');
  const problems: string[] = [];
  for (const panel of queryPanels()) {
    const perJob = (panel.targets ?? []).filter((target) => (target.expr ?? '').includes('$__rate_interval')
      && parsePromQL(substitute(target.expr ?? '')).metrics.some((name) => PER_JOB_FAMILIES.includes(family(name))));
    if (perJob.length === 0) continue;
    const where = `panel ${panel.id} "${panel.title}"`;
    if (panel.interval === undefined) problems.push(`${where}: no minimum interval`);
    else if (intervalSeconds(panel.interval) < PER_JOB_MIN_INTERVAL_SECONDS) problems.push(`${where}: minimum interval ${panel.interval}`);
  }
  assert.deepEqual(problems, []);
});

test('a breakdown by runner is by instance and runner: runner names repeat across hosts', () => {
  // The default runner name is `local` on every host: by (runner) alone would add those up.
  const problems = queries().flatMap((query) => parsePromQL(substitute(query.expr)).groupings
    .filter((grouping) => (grouping.modifier === 'by' || grouping.modifier === 'on') && grouping.labels.includes('runner') && !grouping.labels.includes('instance'))
    .map((grouping) => `${query.where}: ${grouping.modifier} (${grouping.labels.join(', ')})`));
  assert.deepEqual(problems, []);
});

/** The coordinator failing: no answer (0), rate limited (429), 5xx. */
const API_FAILURES: readonly string[] = ['0', '429', '500', '502', '503', '504'];
/**
 * Answers: 2xx, 409 (request_job's conflict), 403 (update_job and patch_trace
 * of a canceled job), 401 and 403 to request_job (a token problem: the
 * RunnerTokenRejected alert), 404.
 */
const API_ANSWERS: readonly string[] = ['200', '201', '202', '204', '401', '403', '404', '409'];

test('the API failure share counts no answer, 429 and 5xx, and no other answer', () => {
  const panel = queryPanels().find((p) => p.id === 21);
  assert.ok(panel, 'panel 21');
  const status = (panel.targets ?? []).flatMap((target) => parsePromQL(substitute(target.expr ?? '')).matchers)
    .filter((matcher) => matcher.metric === 'ci_runner_api_request_statuses_total' && matcher.label === 'status');
  assert.equal(status.length, 1, `panel 21: one status matcher: ${JSON.stringify(status)}`);
  // Prometheus anchors a label regular expression at both ends.
  const selected = (code: string): boolean => {
    const matches = new RegExp(`^(?:${status[0]!.value})$`).test(code);
    return status[0]!.op === '=~' ? matches : status[0]!.op === '!~' ? !matches : status[0]!.op === '=' ? code === status[0]!.value : code !== status[0]!.value;
  };
  assert.deepEqual(API_FAILURES.filter((code) => !selected(code)), [], 'failures not counted');
  assert.deepEqual(API_ANSWERS.filter(selected), [], 'answers counted as failures');
});

/** Counters whose series appear with their first event: before it, a sum over them has no series at all. */
const APPEAR_WITH_FIRST_EVENT: readonly string[] = ['ci_runner_jobs_total', 'ci_runner_failed_jobs_total', 'ci_runner_api_request_statuses_total'];

test('a stat over a counter that appears with its first event reads 0 before it, not "No data"', () => {
  const problems = queryPanels().filter((panel) => panel.type === 'stat').flatMap((panel) => (panel.targets ?? [])
    .filter((target) => parsePromQL(substitute(target.expr ?? '')).metrics.some((name) => APPEAR_WITH_FIRST_EVENT.includes(name)))
    .filter((target) => !/\bor vector\(0\)$/.test((target.expr ?? '').trim()))
    .map((target) => `panel ${panel.id} "${panel.title}" target ${target.refId}: ${target.expr}`));
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------
// The queries as PromQL

test('every dashboard query is a valid recording rule for promtool check rules', { skip: skipUnless('promtool', 'prometheus') }, async () => {
  const all = queries();
  const rules = all.map((query) => `      # ${query.where}\n      - record: ${query.record}\n        expr: ${JSON.stringify(substitute(query.expr))}\n`).join('');
  const file = `groups:\n  - name: runner-dashboard\n    rules:\n${rules}`;
  const dir = mkdtempSync(join(tmpdir(), 'runner-dashboard-'));
  try {
    const path = join(dir, 'dashboard-rules.yml');
    writeFileSync(path, file);
    const result = await promtool(['check', 'rules', path], '');
    // promtool names the rules it rejects; show those queries, or all of them if it names none.
    const named = new Set([...result.output.matchAll(/"(dashboard:\w+)"/g)].map(([, record]) => record));
    const shown = all.filter((query) => named.size === 0 || named.has(query.record)).map((query) => `${query.record} (${query.where}): ${substitute(query.expr)}`);
    assert.equal(result.code, 0, `promtool check rules said:\n${result.output}\n${shown.join('\n')}`);
    assert.match(result.output, new RegExp(`SUCCESS: ${all.length} rules found`), result.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every dashboard query parses with the Prometheus PromQL grammar, by metric name only', () => {
  const problems: string[] = [];
  for (const query of queries()) {
    const expr = substitute(query.expr);
    assert.ok(!expr.includes('$'), `${query.where}: a variable left after substitution: ${expr}`);
    const parsed = parsePromQL(expr);
    for (const error of parsed.errors) problems.push(`${query.where}: ${error} in ${expr}`);
    if (parsed.metrics.length === 0 && !/^vector\(/.test(expr)) problems.push(`${query.where}: no metric name in ${expr}`);
    // Metric names only as names: a {__name__=...} matcher would hide a metric from the checks below.
    if (parsed.nameMatchers > 0) problems.push(`${query.where}: a __name__ matcher in ${expr}`);
  }
  assert.deepEqual(problems, []);
});

/** Names the dashboard must query, one or more for each area of the issue. */
const REQUIRED_METRICS: readonly string[] = [
  'up',
  'ci_runner_version_info',
  'ci_runner_builds',
  'ci_runner_concurrent',
  'ci_runner_job_stage_age_max_seconds',
  'ci_runner_jobs_total',
  'ci_runner_job_duration_seconds_bucket',
  'ci_runner_job_stage_duration_seconds_bucket',
  'ci_runner_failed_jobs_total',
  'ci_runner_job_cpu_seconds_bucket',
  'ci_runner_job_peak_rss_bytes_bucket',
  'ci_runner_api_request_statuses_total',
  'ci_runner_api_request_duration_seconds_bucket',
  'ci_runner_request_concurrency',
  'process_cpu_seconds_total',
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_active_handles',
  'nodejs_active_resources',
  'nodejs_gc_duration_seconds_bucket',
  'nodejs_version_info',
];

test('the dashboard covers the fleet, jobs, coordinator API, process and runtime metrics', () => {
  const used = new Set(dashboardMetrics());
  assert.deepEqual(REQUIRED_METRICS.filter((name) => !used.has(name)), [], 'metrics the dashboard should query');
});

// ---------------------------------------------------------------------------
// The metric names, label names and label values against the real runner

/** Series Prometheus makes itself, not the runner: allowed although no scrape has them. */
const SYNTHETIC: readonly string[] = ['up'];

/** The README table's family of a sample name (a histogram's _bucket, _sum, _count), if the table has it. */
function tableFamily(name: string): string | undefined {
  if (name in TABLE) return name;
  const family = name.replace(/_(bucket|sum|count)$/, '');
  return family in TABLE ? family : undefined;
}

/** Absent on this runtime by the README table. */
function absentHere(name: string): boolean {
  const family = tableFamily(name);
  return family !== undefined && TABLE[family]![runtime.name] === false;
}

/** Each sample name of an exposition (a histogram's _bucket, _sum and _count each), with the values of each of its labels. */
function seriesLabels(body: string): Map<string, Map<string, Set<string>>> {
  const names = new Map<string, Map<string, Set<string>>>();
  for (const [, name, labels] of body.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+(?: -?\d+)?$/gm)) {
    const values = names.get(name!) ?? new Map<string, Set<string>>();
    names.set(name!, values);
    for (const [, label, value] of (labels ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      values.set(label!, (values.get(label!) ?? new Set()).add(value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))));
    }
  }
  return names;
}

const ALERTS = join(packageRoot(), 'deploy', 'prometheus', 'alerts.yml');

/** The alert rules of deploy/prometheus/alerts.yml, as queries. */
function alertQueries(): Query[] {
  const file = parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  const rules = file.groups.flatMap((group) => group.rules);
  assert.ok(rules.length > 0, 'alerts.yml has rules');
  return rules.map((rule) => ({ record: rule.record ?? rule.alert ?? '', where: `alerts.yml ${rule.alert ?? rule.record}`, expr: rule.expr }));
}

/** Every metric name the alert rules of deploy/prometheus/alerts.yml query, sorted, once each. */
function alertMetrics(): string[] {
  return [...new Set(alertQueries().flatMap(({ expr }) => {
    const parsed = parsePromQL(expr);
    assert.deepEqual(parsed.errors, [], expr);
    return parsed.metrics;
  }))].sort();
}

/**
 * Labels every series has that the runner does not serve: Prometheus's
 * target labels job and instance, and those deploy/prometheus's scrape
 * configuration and its file_sd example attach to targets (env, team).
 */
function targetLabels(): Set<string> {
  const dir = join(packageRoot(), 'deploy', 'prometheus');
  type Targets = { labels?: Record<string, string> }[];
  const config = parse(readFileSync(join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs?: Targets }[] };
  const fileSd = parse(readFileSync(join(dir, 'runners.example.yml'), 'utf8')) as Targets;
  const groups = [...config.scrape_configs.flatMap((job) => job.static_configs ?? []), ...fileSd];
  return new Set(['job', 'instance', ...groups.flatMap((group) => Object.keys(group.labels ?? {}))]);
}

/**
 * The values the runner gives these labels, beyond those the scrape after the
 * test's jobs shows: an equality matcher (= or !=) on one of them with another
 * value selects nothing, or everything. Values from the README's Metrics
 * section and the source.
 */
const LABEL_VALUES: Readonly<Record<string, readonly string[]>> = {
  stage: BUILD_STAGES,
  state: ['running'],
  endpoint: ['request_job', 'update_job', 'patch_trace', 'verify'],
  // What ci_runner_failed_jobs_total counts: the executor's reasons, and unknown_failure for a cancel.
  failure_reason: ['script_failure', 'job_execution_timeout', 'runner_system_failure', 'unknown_failure'],
  status_class: ['2xx', '3xx', '4xx', '5xx', 'error'],
  level: ['warning', 'error', 'fatal', 'panic'],
  kind: ['minor', 'major', 'incremental', 'weakcb'],
};

/** Every query the label checks read: the panels', the alert rules', and each label_values(selector, label) as count by (label) (selector). */
function labelCheckedQueries(): { where: string; expr: string }[] {
  const panels = queries().filter((query) => !query.record.startsWith('dashboard:variable_')).map(({ where, expr }) => ({ where, expr: substitute(expr) }));
  const variables = dashboard.templating.list.filter((v) => v.type === 'query').map((variable) => {
    const { selector, label } = labelValues(variableDefinition(variable));
    return { where: `variable ${variable.name}`, expr: `count by (${label}) (${substitute(selector)})` };
  });
  return [...panels, ...variables, ...alertQueries()];
}

/**
 * What is wrong with the label names and values of the queries against a
 * scrape: a matcher's label that no series of its metric has, a grouping
 * label (by, without, on, ignoring, group_left, group_right) that no series of
 * the metrics it applies to has (so le only for a _bucket), and an equality
 * matcher's value of a LABEL_VALUES label that the runner does not produce.
 * Metrics this runtime lacks are left to the runtimes that have them.
 */
function labelProblems(checked: readonly { where: string; expr: string }[], body: string): string[] {
  const series = seriesLabels(body);
  const targets = targetLabels();
  const labelsOf = (metric: string): Set<string> => new Set(SYNTHETIC.includes(metric) ? [] : series.get(metric)?.keys() ?? []);
  const problems: string[] = [];
  for (const { where, expr } of checked) {
    const parsed = parsePromQL(expr);
    for (const matcher of parsed.matchers) {
      const { metric, label, op, value } = matcher;
      if (metric === undefined) { problems.push(`${where}: a selector without a metric name matches ${label}`); continue; }
      const unknown = absentHere(metric);
      if (!targets.has(label) && !unknown && !labelsOf(metric).has(label)) problems.push(`${where}: ${metric} has no label ${label}`);
      if ((op === '=' || op === '!=') && label in LABEL_VALUES) {
        const known = new Set([...LABEL_VALUES[label]!, ...series.get(metric)?.get(label) ?? []]);
        if (!known.has(value)) problems.push(`${where}: ${label}${op}"${value}": the runner gives ${metric} no such ${label}`);
      }
    }
    for (const grouping of parsed.groupings) {
      const known = grouping.metrics.filter((metric) => !absentHere(metric));
      for (const label of grouping.labels) {
        if (targets.has(label) || known.some((metric) => labelsOf(metric).has(label))) continue;
        if (known.length < grouping.metrics.length) continue; // perhaps a label of a metric this runtime lacks
        problems.push(`${where}: ${grouping.modifier} (${label}): no series of ${[...new Set(grouping.metrics)].join(', ') || 'no metric'} has it`);
      }
    }
  }
  return problems;
}

const RUNNER_TOKEN = 'glrt-dashboard-test-token-0123456789';

/** The metric names of the dashboard and the alert rules, sorted, once each. */
function queriedMetrics(): string[] {
  return [...new Set([...dashboardMetrics(), ...alertMetrics()])].sort();
}

/** The names a scrape must show: all queried, but up and those the README table says this runtime lacks. */
function expectedMetrics(): string[] {
  return queriedMetrics().filter((name) => !SYNTHETIC.includes(name) && !absentHere(name));
}

let scrape: Promise<string> | undefined;

/**
 * /metrics of a runner that ran a passing, a failing and a coordinator job,
 * once for this file's tests. Two runners in one process: a local queue, and
 * a GitLab runner against the test coordinator. The ci_runner_api_request_*
 * series exist only once a coordinator has been asked something (an
 * OpenTelemetry instrument with no data point is not rendered at all, not
 * even its # TYPE line), so the API panels are checked against real requests
 * rather than waived.
 */
function scrapeAfterJobs(): Promise<string> {
  scrape ??= (async () => {
    const expected = expectedMetrics();
    const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], traceUpdateIntervalSeconds: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'runner-dashboard-'));
    writeFileSync(join(dir, 'config.toml'), [
      'concurrent = 2',
      'check_interval = 0.2',
      '[[runners]]',
      'name = "local"',
      '[[runners]]',
      'name = "gitlab"',
      `url = "${coordinator.url}"`,
      `token = "${RUNNER_TOKEN}"`,
      '',
    ].join('\n'), { mode: 0o600 });
    const runner = await startRunner([], { cwd: dir });
    try {
      const queue = join(dir, 'queue');
      // One job that succeeds and one that fails, for the failure series.
      const passing = await enqueue(queue, 'name = "passes"\nscript = ["echo hello"]\n', 'passes.toml');
      const failing = await enqueue(queue, 'name = "fails"\nscript = ["echo bye", "exit 3"]\n', 'fails.toml');
      const remote = coordinator.enqueueJob({ name: 'remote', script: ['echo remote'], variables: [{ key: 'GIT_STRATEGY', value: 'none' }] });
      assert.equal((await waitForResult(queue, passing.id, { timeoutMs: 30_000 })).state, 'success');
      assert.equal((await waitForResult(queue, failing.id, { timeoutMs: 30_000 })).state, 'failed');
      const done = await coordinator.waitFor(`job ${remote.id} to finish`, () => {
        const now = coordinator.job(remote.id);
        return ['success', 'failed', 'canceled'].includes(now.state) ? now : undefined;
      });
      assert.equal(done.state, 'success');

      // Node's nodejs_gc_duration_seconds appears after the runner's first
      // garbage collection: scrape until every expected name is there, or time out.
      let body = '';
      const deadline = Date.now() + 30_000;
      do {
        if (body !== '') await new Promise((resolve) => setTimeout(resolve, 250));
        body = await (await fetch(`${runner.url}/metrics`)).text();
      } while (expected.some((name) => !seriesLabels(body).has(name)) && Date.now() < deadline);
      return body;
    } finally {
      runner.kill();
      await coordinator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return scrape;
}

test('every metric the dashboard and the alert rules query is on /metrics after jobs, but up and those the README says this runtime lacks', { timeout: 120_000 }, async () => {
  const body = await scrapeAfterJobs();
  const shown = new Set(seriesLabels(body).keys());
  const metrics = queriedMetrics();
  assert.deepEqual(expectedMetrics().filter((name) => !shown.has(name)), [], `dashboard or alert metrics missing from /metrics on ${runtime.name}`);
  // The runtime metrics the dashboard shows that this runtime does not
  // measure: the README table says so, and the scrape agrees.
  const typed = families(body);
  const absent = metrics.filter(absentHere);
  assert.deepEqual(absent.filter((name) => shown.has(name) || typed.has(tableFamily(name)!)), [], `absent on ${runtime.name} by the README table, yet on /metrics`);
  assert.deepEqual(SYNTHETIC.filter((name) => shown.has(name) || typed.has(name)), [], 'a synthetic name the runner serves itself');
});

test('every label the dashboard and the alert rules select or group by is on /metrics, and every value they match by equality is one the runner gives', { timeout: 120_000 }, async () => {
  const body = await scrapeAfterJobs();
  assert.deepEqual(labelProblems(labelCheckedQueries(), body), [], `label names and values against /metrics on ${runtime.name}`);
});
