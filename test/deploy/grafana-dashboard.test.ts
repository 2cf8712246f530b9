// deploy/grafana/runner-dashboard.json: a Grafana dashboard model that imports
// through the UI and loads from file provisioning, whose every query is PromQL
// that Prometheus accepts (promtool and the Prometheus team's Lezer grammar)
// and covers what the issue asks for. Grafana itself is not run: the test
// reads the JSON as Grafana would. test/monitoring-scrape.test.ts checks its
// metric and label names against a real runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePromQL } from '../support/promql.ts';
import { promtool } from '../support/promtool.ts';
import { skipUnless } from '../support/tools.ts';
import {
  allPanels,
  BUILT_INS,
  dashboard,
  dashboardMetrics,
  GRAFANA_UNITS,
  type GridPos,
  type Panel,
  PANEL_DATASOURCE,
  queries,
  queryPanels,
  substitute,
  variableDefinition,
  variablesIn,
} from '../support/grafana-dashboard.ts';

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
    assert.ok(
      [x, y, w, h].every(Number.isInteger) && x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24,
      `${where}: gridPos ${JSON.stringify(panel.gridPos)}`,
    );
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
      assert.ok(
        typeof property.value === 'string' && GRAFANA_UNITS.includes(property.value),
        `${where}: an override's unit ${String(property.value)} is not a Grafana unit id`,
      );
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
    variablesIn(query.expr).filter((name) => !(name in BUILT_INS) && !names.includes(name)).map((name) => `${query.where}: $${name}`)
  );
  assert.deepEqual(undefinedVariables, [], 'variables used in queries but neither defined nor built in');
});

test('the dashboard has the rows and variables of the issue', () => {
  assert.deepEqual(dashboard.panels.filter((panel) => panel.type === 'row').map((row) => row.title), [
    'Fleet',
    'Jobs',
    'Coordinator API',
    'Process',
    'Runtime',
    'Docker executor',
  ]);
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
  assert.ok(count >= 25 && count <= 40, `${count} panels besides the rows`);
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
  'ci_runner_artifact_bytes_total',
  'ci_runner_cache_bytes_total',
  'ci_runner_cache_restores_total',
  'ci_runner_artifact_transfer_failures_total',
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
    const perJob = (panel.targets ?? []).filter((target) =>
      (target.expr ?? '').includes('$__rate_interval') &&
      parsePromQL(substitute(target.expr ?? '')).metrics.some((name) => PER_JOB_FAMILIES.includes(family(name)))
    );
    if (perJob.length === 0) continue;
    const where = `panel ${panel.id} "${panel.title}"`;
    if (panel.interval === undefined) problems.push(`${where}: no minimum interval`);
    else if (intervalSeconds(panel.interval) < PER_JOB_MIN_INTERVAL_SECONDS) problems.push(`${where}: minimum interval ${panel.interval}`);
  }
  assert.deepEqual(problems, []);
});

test("the job duration quantiles ask for exemplars, so a slow bucket leads to its jobs' traces; no other query does", () => {
  const withExemplars = queryPanels().flatMap((panel) => (panel.targets ?? []).filter((target) => target.exemplar === true).map((target) => target.expr ?? ''));
  assert.equal(withExemplars.length, 3, withExemplars.join('\n'));
  for (const expr of withExemplars) assert.match(expr, /^histogram_quantile\(0\.\d+, sum by \(le\) \(rate\(ci_runner_job_duration_seconds_bucket\{/);
});

test('a breakdown by runner is by instance and runner: runner names repeat across hosts', () => {
  // The default runner name is `local` on every host: by (runner) alone would add those up.
  const problems = queries().flatMap((query) =>
    parsePromQL(substitute(query.expr)).groupings
      .filter((grouping) =>
        (grouping.modifier === 'by' || grouping.modifier === 'on') && grouping.labels.includes('runner') && !grouping.labels.includes('instance')
      )
      .map((grouping) => `${query.where}: ${grouping.modifier} (${grouping.labels.join(', ')})`)
  );
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
  const problems = queryPanels().filter((panel) => panel.type === 'stat').flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target) => parsePromQL(substitute(target.expr ?? '')).metrics.some((name) => APPEAR_WITH_FIRST_EVENT.includes(name)))
      .filter((target) => !/\bor vector\(0\)$/.test((target.expr ?? '').trim()))
      .map((target) => `panel ${panel.id} "${panel.title}" target ${target.refId}: ${target.expr}`)
  );
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------
// The queries as PromQL

test('every dashboard query is a valid recording rule for promtool check rules', { skip: skipUnless('promtool', 'prometheus') }, async () => {
  const all = queries();
  const rules = all.map((query) => `      # ${query.where}\n      - record: ${query.record}\n        expr: ${JSON.stringify(substitute(query.expr))}\n`).join(
    '',
  );
  const file = `groups:\n  - name: runner-dashboard\n    rules:\n${rules}`;
  const dir = mkdtempSync(join(tmpdir(), 'runner-dashboard-'));
  try {
    const path = join(dir, 'dashboard-rules.yml');
    writeFileSync(path, file);
    const result = await promtool(['check', 'rules', path], '');
    // promtool names the rules it rejects; show those queries, or all of them if it names none.
    const named = new Set([...result.output.matchAll(/"(dashboard:\w+)"/g)].map(([, record]) => record));
    const shown = all.filter((query) => named.size === 0 || named.has(query.record)).map((query) =>
      `${query.record} (${query.where}): ${substitute(query.expr)}`
    );
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
  'ci_runner_artifact_bytes_total',
  'ci_runner_cache_bytes_total',
  'ci_runner_cache_restores_total',
  'ci_runner_artifact_transfer_failures_total',
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
