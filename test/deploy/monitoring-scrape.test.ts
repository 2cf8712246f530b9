// The monitoring kit against a real runner: every metric name the Grafana
// dashboard and the alert rules query is on /metrics after jobs have run, but
// for `up` (Prometheus's own) and the runtime metrics the runtime support table says
// this runtime does not have; and against the same scrape, the label names
// their queries select and group by, and the values they match by equality.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BUILD_STAGES, COUNTED_FAILURE_REASONS } from '../../src/job/result.ts';
import { runtime } from '../../src/runtime/runtime.ts';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { packageRoot } from '../../src/version.ts';
import { TestCoordinator } from '../support/coordinator/coordinator.ts';
import { parsePromQL } from '../support/promql.ts';
import { startRunner } from '../support/runner-process.ts';
import { RUNTIME_METRIC_SUPPORT } from '../../src/telemetry/runtime-support.ts';
import { CACHE_RESTORE_RESULTS, COUNTED_TRANSFER_FAILURES, TRANSFER_DIRECTIONS, TRANSFER_RESULTS } from '../../src/telemetry/transfer-metrics.ts';
import { families } from '../support/exposition.ts';
import { IMAGE_PULL_RESULTS, SERVICES_WAIT_RESULTS } from '../../src/telemetry/executor-metrics.ts';
import { dockerAvailable, testDockerHost } from '../support/docker.ts';
import {
  type Dashboard,
  dashboard,
  dashboardMetrics,
  labelValues,
  loadDashboard,
  queries,
  type Query,
  substitute,
  variableDefinition,
} from '../support/grafana-dashboard.ts';
import { TWINS } from '../support/gitlab-names-twin.ts';

// ---------------------------------------------------------------------------
// The metric names, label names and label values against the real runner

/** Series Prometheus makes itself, not the runner: allowed although no scrape has them. */
const SYNTHETIC: readonly string[] = ['up'];

/** The runtime support table's family of a sample name (a histogram's _bucket, _sum, _count), if the table has it. */
function tableFamily(name: string): string | undefined {
  if (name in RUNTIME_METRIC_SUPPORT) return name;
  const family = name.replace(/_(bucket|sum|count)$/, '');
  return family in RUNTIME_METRIC_SUPPORT ? family : undefined;
}

/** A docker runner joins the scrape where a daemon answers (always on CI, which starts one). */
const dockerSkip = await dockerAvailable(['runner-test/sh:1', 'runner-test/kv:1']);

/** Absent on this runtime by the runtime support table, or a docker executor metric with no daemon to run a docker job. */
function absentHere(name: string): boolean {
  if (dockerSkip !== undefined && /^(ci|gitlab)_runner_docker_/.test(name)) return true;
  const family = tableFamily(name);
  return family !== undefined && RUNTIME_METRIC_SUPPORT[family]![runtime.name] === false;
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

/**
 * A dashboard and its alert rules: the monitoring kit on our names, and its
 * twin on GitLab Runner's (metric_names = "gitlab_runner"), checked against
 * one scrape of a runner serving both.
 */
interface Kit {
  readonly name: string;
  readonly dashboard: Dashboard;
  readonly alerts: string;
}

const twin = (original: string): string => TWINS.find((files) => files.original.endsWith(original))!.twin;
const KITS: readonly Kit[] = [
  { name: 'the dashboard and the alert rules', dashboard, alerts: join(packageRoot(), 'deploy', 'prometheus', 'alerts.yml') },
  {
    name: 'the GitLab-names twins of the dashboard and the alert rules',
    dashboard: loadDashboard(twin('runner-dashboard.json')),
    alerts: twin('alerts.yml'),
  },
];

/** The alert rules of a kit's alerts file, as queries. */
function alertQueries(kit: Kit): Query[] {
  const file = parse(readFileSync(kit.alerts, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  const rules = file.groups.flatMap((group) => group.rules);
  assert.ok(rules.length > 0, 'alerts.yml has rules');
  const where = kit.alerts.slice(kit.alerts.lastIndexOf('/') + 1);
  return rules.map((rule) => ({ record: rule.record ?? rule.alert ?? '', where: `${where} ${rule.alert ?? rule.record}`, expr: rule.expr }));
}

/** Every metric name a kit's alert rules query, sorted, once each. */
function alertMetrics(kit: Kit): string[] {
  return [
    ...new Set(
      alertQueries(kit).flatMap(({ expr }) => {
        const parsed = parsePromQL(expr);
        assert.deepEqual(parsed.errors, [], expr);
        return parsed.metrics;
      }),
    ),
  ].sort();
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
 * value selects nothing, or everything. Values from docs/metrics.md's Metrics
 * section and the source.
 */
const LABEL_VALUES: Readonly<Record<string, readonly string[]>> = {
  stage: BUILD_STAGES,
  state: ['running'],
  endpoint: ['request_job', 'update_job', 'patch_trace', 'verify'],
  failure_reason: COUNTED_FAILURE_REASONS,
  status_class: ['2xx', '3xx', '4xx', '5xx', 'error'],
  level: ['warning', 'error', 'fatal', 'panic'],
  kind: ['minor', 'major', 'incremental', 'weakcb'],
  direction: TRANSFER_DIRECTIONS,
  reason: COUNTED_TRANSFER_FAILURES,
  result: [...TRANSFER_RESULTS, ...CACHE_RESTORE_RESULTS, ...IMAGE_PULL_RESULTS, ...SERVICES_WAIT_RESULTS],
};

/** Every query the label checks read: the panels', the alert rules', and each label_values(selector, label) as count by (label) (selector). */
function labelCheckedQueries(kit: Kit): { where: string; expr: string }[] {
  const board = kit.dashboard;
  const panels = queries(board).filter((query) => !query.record.startsWith('dashboard:variable_')).map(({ where, expr }) => ({
    where,
    expr: substitute(expr, board),
  }));
  const variables = board.templating.list.filter((v) => v.type === 'query').map((variable) => {
    const { selector, label } = labelValues(variableDefinition(variable));
    return { where: `variable ${variable.name}`, expr: `count by (${label}) (${substitute(selector, board)})` };
  });
  return [...panels, ...variables, ...alertQueries(kit)];
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
      if (metric === undefined) {
        problems.push(`${where}: a selector without a metric name matches ${label}`);
        continue;
      }
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

/** The metric names of a kit's dashboard and alert rules, sorted, once each. */
function queriedMetrics(kit: Kit): string[] {
  return [...new Set([...dashboardMetrics(kit.dashboard), ...alertMetrics(kit)])].sort();
}

/** The names a scrape must show: all the kits query, but up and those the runtime support table says this runtime lacks. */
function expectedMetrics(kit?: Kit): string[] {
  return (kit === undefined ? KITS.flatMap(queriedMetrics) : queriedMetrics(kit)).filter((name) => !SYNTHETIC.includes(name) && !absentHere(name));
}

let scrape: Promise<string> | undefined;

/**
 * /metrics of a runner that ran a passing, a failing and a coordinator job,
 * once for this file's tests. Runners in one process: a local queue, a GitLab
 * runner against the test coordinator, and where a Docker daemon answers a
 * docker runner with a job that has a service and one whose image is missing. The ci_runner_api_request_*
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
    writeFileSync(
      join(dir, 'config.toml'),
      [
        'concurrent = 2',
        // Both name sets in one scrape: each kit is checked against the names it queries.
        'metric_names = "both"',
        'check_interval = 0.2',
        '[[runners]]',
        'name = "local"',
        '[[runners]]',
        'name = "gitlab"',
        `url = "${coordinator.url}"`,
        `token = "${RUNNER_TOKEN}"`,
        ...(dockerSkip === undefined
          ? [
            '[[runners]]',
            'name = "docker"',
            'executor = "docker"',
            'queue_dir = "queue-docker"',
            '[runners.docker]',
            `host = "${testDockerHost()}"`,
            'image = "runner-test/sh:1"',
            'pull_policy = "if-not-present"',
            'allowed_pull_policies = ["if-not-present", "never"]',
          ]
          : []),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
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
      if (dockerSkip === undefined) {
        // A docker job with a service, and one whose image is missing under pull_policy never: pulls of each result.
        const dockerQueue = join(dir, 'queue-docker');
        const served = await enqueue(dockerQueue, 'name = "served"\nscript = ["true"]\nservices = ["runner-test/kv:1"]\n', 'served.toml');
        const missing = await enqueue(
          dockerQueue,
          'name = "missing"\nscript = ["true"]\nimage = { name = "runner-test/missing:1", pull_policy = ["never"] }\n',
          'missing.toml',
        );
        assert.equal((await waitForResult(dockerQueue, served.id, { timeoutMs: 60_000 })).state, 'success');
        assert.equal((await waitForResult(dockerQueue, missing.id, { timeoutMs: 60_000 })).state, 'failed');
      }

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

for (const kit of KITS) {
  test(`every metric ${kit.name} query is on /metrics after jobs, but up and those the runtime support table says this runtime lacks`, {
    timeout: 120_000,
  }, async () => {
    const body = await scrapeAfterJobs();
    const shown = new Set(seriesLabels(body).keys());
    const metrics = queriedMetrics(kit);
    assert.deepEqual(expectedMetrics(kit).filter((name) => !shown.has(name)), [], `${kit.name}: metrics missing from /metrics on ${runtime.name}`);
    // The runtime metrics the dashboard shows that this runtime does not
    // measure: the runtime support table says so, and the scrape agrees.
    const typed = families(body);
    const absent = metrics.filter(absentHere);
    assert.deepEqual(
      absent.filter((name) => shown.has(name) || typed.has(tableFamily(name)!)),
      [],
      `absent on ${runtime.name} by the runtime support table, yet on /metrics`,
    );
    assert.deepEqual(SYNTHETIC.filter((name) => shown.has(name) || typed.has(name)), [], 'a synthetic name the runner serves itself');
  });

  test(`every label ${kit.name} select or group by is on /metrics, and every value they match by equality is one the runner gives`, {
    timeout: 120_000,
  }, async () => {
    const body = await scrapeAfterJobs();
    assert.deepEqual(labelProblems(labelCheckedQueries(kit), body), [], `${kit.name}: label names and values against /metrics on ${runtime.name}`);
  });
}

test("the GitLab-names twins query none of our ci_runner_* names, and the originals none of GitLab's", () => {
  const [ours, gitlabs] = KITS as [Kit, Kit];
  assert.deepEqual(queriedMetrics(gitlabs).filter((name) => name.startsWith('ci_runner_')), []);
  assert.deepEqual(queriedMetrics(ours).filter((name) => name.startsWith('gitlab_runner_')), []);
  assert.ok(queriedMetrics(gitlabs).includes('gitlab_runner_jobs'), "the twin dashboard reads GitLab Runner's gitlab_runner_jobs");
});
