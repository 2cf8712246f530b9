// End to end: a real Prometheus server runs the shipped configuration
// (deploy/prometheus/, with 1 s intervals): it discovers the runner through a
// target file, scrapes its metrics server, evaluates the shipped alert rules,
// and the values and alerts come back through its HTTP API, exactly as an
// operator sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtime } from '../../src/runtime/runtime.ts';
import { packageRoot } from '../../src/version.ts';
import { TestCoordinator } from '../support/coordinator/coordinator.ts';
import {
  apiData,
  DEADLINE_MS,
  isRecord,
  PROMETHEUS,
  queryUntil,
  RunnerAndPrometheus,
  type Sample,
  targetUp,
  until,
  vector,
} from '../support/prometheus-server.ts';
import { startRunner } from '../support/runner-process.ts';
import { privateCa } from '../support/tls.ts';
import { skipUnless } from '../support/tools.ts';
import { exampleWebConfig, withHttpsScrape } from '../support/web-config-example.ts';

/** Process and runtime metrics that the runtime support table (src/telemetry/runtime-support.ts) marks as measured on all three runtimes. */
const RUNTIME_METRICS_EVERYWHERE: readonly string[] = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'process_start_time_seconds',
  'nodejs_version_info',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
];

interface AlertRule {
  readonly name: string;
  readonly health: string;
  readonly lastError: string;
  readonly state: string;
  readonly evaluated: boolean;
}

/** The alerting rules of a /api/v1/rules answer. */
function alertRules(data: unknown): AlertRule[] {
  if (!isRecord(data) || !Array.isArray(data['groups'])) return [];
  return data['groups'].filter(isRecord).flatMap((group) => (Array.isArray(group['rules']) ? group['rules'] : []))
    .filter(isRecord).filter((rule) => rule['type'] === 'alerting').map((rule) => ({
      name: String(rule['name']),
      health: String(rule['health']),
      lastError: String(rule['lastError'] ?? ''),
      state: String(rule['state']),
      // Before its first evaluation a rule reports health "unknown" and Go's zero time.
      evaluated: rule['health'] !== 'unknown' && !String(rule['lastEvaluation']).startsWith('0001-'),
    }));
}

const KIT = join(packageRoot(), 'deploy', 'prometheus');
/** The shipped intervals, shortened so that the test takes seconds: each must be in the file as written. */
const FAST_INTERVALS: readonly (readonly [string, string])[] = [
  ['  scrape_interval: 15s\n', '  scrape_interval: 1s\n'],
  ['  evaluation_interval: 15s\n', '  evaluation_interval: 1s\n'],
  ['    scrape_timeout: 5s\n', '    scrape_timeout: 1s\n'],
];

/**
 * deploy/prometheus/ copied into `dir` with 1 s intervals, the alert rules of `alerts`, and a target file listing `target`;
 * `edit` changes the configuration further.
 */
function shippedPrometheusConfig(dir: string, target: string, alerts: string, edit: (config: string) => string = (config) => config): string {
  let config = readFileSync(join(KIT, 'prometheus.yml'), 'utf8');
  for (const [shipped, fast] of [...FAST_INTERVALS, ['  - alerts.yml\n', `  - ${alerts}\n`] as const]) {
    assert.ok(config.includes(shipped), `deploy/prometheus/prometheus.yml has ${JSON.stringify(shipped)}`);
    config = config.replace(shipped, fast);
  }
  writeFileSync(join(dir, 'prometheus.yml'), edit(config));
  copyFileSync(join(KIT, alerts), join(dir, alerts));
  mkdirSync(join(dir, 'runners'));
  writeFileSync(join(dir, 'runners', 'test.yml'), `- targets: ['${target}']\n  labels:\n    team: ci\n`);
  return join(dir, 'prometheus.yml');
}

const REJECTED_TOKEN = 'glrt-not-known-to-the-coordinator-0123';

/**
 * The runner on our names with the shipped rules, and on GitLab Runner's
 * (metric_names) with their twin: the `runner` label of GitLab's names is
 * the short token, the name is in `runner_name`.
 */
const SETUPS = [
  { names: 'ci_runner', alerts: 'alerts.yml', prefix: 'ci_runner_', rejected: { runner: 'rejected' } },
  { names: 'gitlab_runner', alerts: 'alerts-gitlab-names.yml', prefix: 'gitlab_runner_', rejected: { runner: 'not-known', runner_name: 'rejected' } },
] as const;

for (const setup of SETUPS) {
  test(
    `a real Prometheus server with the shipped configuration scrapes the runner and fires the alert for a rejected token (metric_names = ${setup.names}, ${setup.alerts})`,
    {
      skip: skipUnless(PROMETHEUS, 'prometheus'),
      timeout: 90_000,
    },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'runner-prometheus-'));
      // The coordinator knows no token: asking for jobs with any token is answered 403.
      const coordinator = await TestCoordinator.start({ runnerTokens: [] });
      const session = new RunnerAndPrometheus();
      try {
        await session.run(async () => {
          // A local runner, and a GitLab runner whose token the coordinator refuses.
          const work = join(dir, 'work');
          mkdirSync(work);
          writeFileSync(
            join(work, 'config.toml'),
            [
              'concurrent = 1',
              `metric_names = "${setup.names}"`,
              '[[runners]]',
              'name = "local"',
              '[[runners]]',
              'name = "rejected"',
              `url = "${coordinator.url}"`,
              `token = "${REJECTED_TOKEN}"`,
              '',
            ].join('\n'),
            { mode: 0o600 },
          );
          const runner = session.runner = await startRunner([], { cwd: work });
          const target = new URL(runner.url).host;
          const config = shippedPrometheusConfig(dir, target, setup.alerts);

          const { api, check: bothRunning } = await session.startPrometheus(dir, config);

          const deadline = Date.now() + DEADLINE_MS;
          const up = await targetUp(api, 'runner', deadline, bothRunning);
          assert.equal(up.scrapeUrl, `${runner.url}/metrics`);
          assert.equal(up.lastError, '', `the scrape reported an error: ${up.lastError}`);

          const query = (promql: string): Promise<Sample[]> => queryUntil(api, promql, deadline, bothRunning);

          const info = await query(`${setup.prefix}version_info`);
          assert.equal(info.length, 1, `one version series: ${JSON.stringify(info)}`);
          const [version] = info;
          assert.ok(version !== undefined);
          assert.equal(version.value, '1');
          assert.equal(version.labels['name'], 'runner');
          assert.equal(version.labels['runtime'], runtime.name);
          assert.equal(version.labels['job'], 'runner');
          assert.equal(version.labels['instance'], target);
          assert.equal(version.labels['team'], 'ci', "the target file's label");

          const rss = await query('process_resident_memory_bytes{job="runner"}');
          assert.equal(rss.length, 1, `one RSS series: ${JSON.stringify(rss)}`);
          assert.ok(Number(rss[0]?.value) > 0, `process_resident_memory_bytes is ${rss[0]?.value}`);

          const concurrent = await query(`${setup.prefix}concurrent{job="runner"}`);
          // One name set only: the other is not served.
          const others = await apiData(
            api,
            `/api/v1/query?query=${encodeURIComponent('count({job="runner", __name__=~"(ci|gitlab)_runner_.+"}) by (__name__)')}`,
          );
          assert.deepEqual(vector(others).filter((sample) => !sample.labels['__name__']!.startsWith(setup.prefix)), [], 'series of the other name set');
          assert.deepEqual(concurrent.map((sample) => sample.value), ['1']);

          // The runtime metrics every runtime has, as Prometheus stored them.
          const runtimeInfo = await query('nodejs_version_info{job="runner"}');
          assert.deepEqual(runtimeInfo.map((sample) => sample.labels['runtime']), [runtime.name]);
          const stored = await query('count by (__name__) ({job="runner", __name__=~"process_.+|nodejs_.+"})');
          const names = new Set(stored.map((sample) => sample.labels['__name__']));
          for (const name of RUNTIME_METRICS_EVERYWHERE) assert.ok(names.has(name), `Prometheus has ${name}; it has ${[...names].sort().join(', ')}`);
          const cpu = await query('process_cpu_seconds_total{job="runner"}');
          assert.ok(Number(cpu[0]?.value) > 0, `process_cpu_seconds_total is ${cpu[0]?.value}`);

          // The refused token fires RunnerTokenRejected for that runner, with the target's labels for routing.
          const rejected = await query('ALERTS{alertname="RunnerTokenRejected", alertstate="firing"}');
          assert.equal(rejected.length, 1, JSON.stringify(rejected));
          for (const [label, value] of Object.entries(setup.rejected)) assert.equal(rejected[0]?.labels[label], value, label);
          assert.equal(rejected[0]?.labels['severity'], 'critical');
          assert.equal(rejected[0]?.labels['instance'], target);
          assert.equal(rejected[0]?.labels['team'], 'ci');

          // Every shipped rule loads and evaluates without an error; none but that one is pending or firing.
          const rules = await until('every alert rule evaluated', deadline, async () => {
            bothRunning();
            const all = alertRules(await apiData(api, '/api/v1/rules?type=alert'));
            return all.length > 0 && all.every((rule) => rule.evaluated) ? all : undefined;
          });
          assert.deepEqual(rules.filter((rule) => rule.health !== 'ok' || rule.lastError !== ''), [], 'rules that failed to evaluate');
          assert.ok(rules.some((rule) => rule.name === 'RunnerDown'), `RunnerDown is among ${rules.map((rule) => rule.name).join(', ')}`);
          // A rule group evaluated before the first scrape sees no `up` at all (absent() pends for a moment): wait for an evaluation after it.
          const active = (all: typeof rules): string[] => all.filter((rule) => rule.state !== 'inactive').map((rule) => rule.name);
          const settled = await until('only RunnerTokenRejected pending or firing', deadline, async () => {
            const all = alertRules(await apiData(api, '/api/v1/rules?type=alert'));
            return active(all).join() === 'RunnerTokenRejected' ? all : undefined;
          }).catch(async () => alertRules(await apiData(api, '/api/v1/rules?type=alert')));
          assert.deepEqual(active(settled), ['RunnerTokenRejected'], 'alerts pending or firing');
        });
      } finally {
        await coordinator.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test(
  "a real Prometheus server with the shipped configuration's HTTPS block scrapes a runner with the shipped web config: client certificate, basic auth, TLS 1.3",
  {
    skip: skipUnless(PROMETHEUS, 'prometheus') || skipUnless('openssl', 'openssl', 'version'),
    timeout: 90_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-prometheus-https-'));
    const session = new RunnerAndPrometheus();
    try {
      await session.run(async () => {
        mkdirSync(join(dir, 'ca'));
        const ca = privateCa(join(dir, 'ca'));
        const password = randomBytes(18).toString('base64url');
        // deploy/web-config.yml with its client certificate lines uncommented, and a password the test knows for the user Prometheus scrapes as.
        const work = join(dir, 'work');
        mkdirSync(work);
        const webConfig = exampleWebConfig(work, ca, { clientCertificates: true, hashes: { prometheus: bcrypt.hashSync(password, 10) } });
        writeFileSync(join(work, 'config.toml'), `web_config_file = "${webConfig}"\n`, { mode: 0o600 });
        const runner = session.runner = await startRunner([], { cwd: work });
        assert.match(runner.logs(), /Metrics server listening\s.*scheme=https/, 'the runner serves HTTPS');
        const target = new URL(runner.url).host;
        const config = shippedPrometheusConfig(
          dir,
          target,
          'alerts.yml',
          (shipped) => withHttpsScrape(shipped, dir, { caFile: ca.caFile, password, clientCertificate: true, client: ca.client('prometheus') }),
        );

        const { api, check: bothRunning } = await session.startPrometheus(dir, config);
        const deadline = Date.now() + DEADLINE_MS;
        const up = await targetUp(api, 'runner', deadline, bothRunning);
        assert.equal(up.scrapeUrl, `https://${target}/metrics`);
        assert.equal(up.lastError, '', `the scrape reported an error: ${up.lastError}`);
        const info = await queryUntil(api, 'ci_runner_version_info{job="runner"}', deadline, bothRunning);
        assert.deepEqual(info.map((sample) => [sample.labels['runtime'], sample.labels['instance'], sample.value]), [[runtime.name, target, '1']]);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
