// The monitoring kit in deploy/: the Prometheus configuration and alert rules
// checked by promtool as an operator would, every alert unit-tested both ways,
// and the systemd unit checked by systemd-analyze.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../src/version.ts';
import { privateCa } from '../support/tls.ts';
import { skipUnless } from '../support/tools.ts';
import { withHttpsScrape } from '../support/web-config-example.ts';

const PROMETHEUS_DIR = join(packageRoot(), 'deploy', 'prometheus');
const UNIT = join(packageRoot(), 'deploy', 'systemd', 'runner.service');
/**
 * systemd-analyze's exposure score of the unit must stay in its "OK" band: at most 3.0 of 10 (its --threshold counts
 * tenths). It was 1.7 with the runner as an unprivileged user; starting jobs as users of their own (`user`) takes root
 * (0.4) and the capabilities it needs (SETUID/SETGID 0.3, CHOWN 0.2, DAC_OVERRIDE/FOWNER 0.2, KILL 0.1, SYS_PTRACE to
 * see the jobs under ProtectProc 0.3); PrivateMounts gives 0.2 back: 2.9.
 */
const MAX_EXPOSURE_TENTHS = 30;
/** What root keeps in the unit: the runner's needs for jobs that run as other users, nothing else. */
const CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SYS_PTRACE'];

function run(command: string, args: readonly string[], cwd?: string): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(value), `${what} is a list`);
  return value;
}

function field(value: unknown, key: string, what: string): unknown {
  assert.ok(isRecord(value), `${what} is a mapping`);
  return value[key];
}

/** The alert names of deploy/prometheus/alerts.yml, in file order. */
function alertNames(): string[] {
  const rules = parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as unknown;
  return list(field(rules, 'groups', 'alerts.yml'), 'groups').flatMap((group) =>
    list(field(group, 'rules', 'a group'), 'rules').map((rule) => String(field(rule, 'alert', 'a rule')))
  );
}

test('deploy/prometheus/prometheus.yml, with the example target file in runners/, is a valid Prometheus configuration', {
  skip: skipUnless('promtool', 'prometheus'),
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-kit-'));
  try {
    // promtool checks rule files and file_sd target files relative to the configuration, as Prometheus loads them.
    for (const file of ['prometheus.yml', 'alerts.yml']) copyFileSync(join(PROMETHEUS_DIR, file), join(dir, file));
    mkdirSync(join(dir, 'runners'));
    copyFileSync(join(PROMETHEUS_DIR, 'runners.example.yml'), join(dir, 'runners', 'fleet.yml'));
    const result = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    assert.equal(result.status, 0, result.output);
    assert.doesNotMatch(result.output, /WARNING/, result.output);
    assert.match(result.output, /SUCCESS: 1 rule files found/);

    // The commented static_configs example is valid too, once uncommented.
    const shipped = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
    const example = shipped.replace(/^ {4}# ( *(static_configs:|- targets:|labels:|env:).*)$/gm, '    $1');
    assert.notEqual(example, shipped, 'prometheus.yml has a commented static_configs example');
    assert.match(example, /^ {4}static_configs:$/m);
    writeFileSync(join(dir, 'prometheus.yml'), example);
    const withStatic = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    assert.equal(withStatic.status, 0, withStatic.output);
    assert.doesNotMatch(withStatic.output, /WARNING/, withStatic.output);

    // The check does read the target file: a bad label name in it fails.
    writeFileSync(join(dir, 'runners', 'fleet.yml'), '- targets: ["runner-1:9252"]\n  labels: {"0team": x}\n');
    const bad = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    assert.notEqual(bad.status, 0, bad.output);
    assert.match(bad.output, /"0team" is not a valid label name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "deploy/prometheus/prometheus.yml with its HTTPS block uncommented (the scrape side of deploy/web-config.yml) is valid, with and without Prometheus' client certificate",
  {
    skip: skipUnless('promtool', 'prometheus') || skipUnless('openssl', 'openssl', 'version'),
  },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-kit-https-'));
    try {
      for (const file of ['prometheus.yml', 'alerts.yml']) copyFileSync(join(PROMETHEUS_DIR, file), join(dir, file));
      mkdirSync(join(dir, 'runners'));
      copyFileSync(join(PROMETHEUS_DIR, 'runners.example.yml'), join(dir, 'runners', 'fleet.yml'));
      mkdirSync(join(dir, 'ca'));
      const ca = privateCa(join(dir, 'ca'));
      const shipped = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
      const check = (config: string): { status: number | null; output: string } => {
        writeFileSync(join(dir, 'prometheus.yml'), config);
        return run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
      };
      for (const clientCertificate of [false, true]) {
        const config = withHttpsScrape(shipped, dir, { caFile: ca.caFile, password: 'secret', clientCertificate, client: ca.client('prometheus') });
        const parsed = parse(config) as unknown;
        const job = list(field(parsed, 'scrape_configs', 'prometheus.yml'), 'scrape_configs')[0];
        assert.equal(field(job, 'scheme', 'the runner job'), 'https');
        assert.deepEqual(field(job, 'basic_auth', 'the runner job'), { username: 'prometheus', password_file: 'runner-tls/password' });
        const tls = field(job, 'tls_config', 'the runner job');
        assert.deepEqual(
          tls,
          clientCertificate
            ? { ca_file: 'runner-tls/ca.pem', cert_file: 'runner-tls/prometheus.pem', key_file: 'runner-tls/prometheus.key' }
            : { ca_file: 'runner-tls/ca.pem' },
        );
        const result = check(config);
        assert.equal(result.status, 0, result.output);
        assert.doesNotMatch(result.output, /WARNING/, result.output);
      }
      // promtool does look at the client certificate's files (it reads neither ca_file nor password_file).
      rmSync(join(dir, 'runner-tls', 'prometheus.key'));
      const missing = check(withHttpsScrape(shipped, dir, { caFile: ca.caFile, password: 'secret', clientCertificate: true }));
      assert.notEqual(missing.status, 0, missing.output);
      assert.match(missing.output, /client key file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// The alert rules on our names, and their twin on GitLab Runner's (metric_names = "gitlab_runner").
for (const [rules, tests] of [['alerts.yml', 'alerts.test.yml'], ['alerts-gitlab-names.yml', 'alerts-gitlab-names.test.yml']] as const) {
  test(`deploy/prometheus/${rules} passes promtool check rules`, { skip: skipUnless('promtool', 'prometheus') }, () => {
    const result = run('promtool', ['check', 'rules', join(PROMETHEUS_DIR, rules)]);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${alertNames().length} rules found`));
  });

  test(`the alert rules pass their unit tests (promtool test rules ${tests})`, { skip: skipUnless('promtool', 'prometheus') }, () => {
    const result = run('promtool', ['test', 'rules', tests], PROMETHEUS_DIR);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /SUCCESS/);
  });
}

test('every alert has a unit test where it fires and one where it does not', () => {
  const names = alertNames();
  for (
    const expected of [
      'RunnerDown',
      'RunnerJobsFailing',
      'RunnerStageStuck',
      'RunnerCoordinatorErrors',
      'RunnerTokenRejected',
      'RunnerEventLoopLagHigh',
      'RunnerMemoryGrowing',
      'RunnerRestarting',
      'RunnerArtifactUploadsFailing',
      'RunnerDockerImagePullsFailing',
    ]
  ) {
    assert.ok(names.includes(expected), `alerts.yml has ${expected}: ${names.join(', ')}`);
  }
  const tests = parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8')) as unknown;
  assert.deepEqual(field(tests, 'rule_files', 'alerts.test.yml'), ['alerts.yml']);
  const cases = list(field(tests, 'tests', 'alerts.test.yml'), 'tests').flatMap((group) =>
    list(field(group, 'alert_rule_test', 'a test group'), 'alert_rule_test')
  );
  for (const name of names) {
    const expectations = cases.filter((c) => field(c, 'alertname', 'a case') === name)
      .map((c) => list(field(c, 'exp_alerts', `a case of ${name}`), 'exp_alerts').length);
    assert.ok(expectations.some((count) => count > 0), `${name} has a case where it fires`);
    assert.ok(expectations.some((count) => count === 0), `${name} has a case where it does not fire`);
  }
});

test('deploy/systemd/runner.service passes systemd-analyze verify and its exposure score is OK', {
  skip: skipUnless('systemd-analyze', 'systemd') || (existsSync('/usr/bin/node') ? false : 'the unit starts /usr/bin/node, which this machine lacks'),
}, () => {
  const verify = run('systemd-analyze', ['verify', UNIT]);
  assert.equal(verify.status, 0, verify.output);
  // verify exits 0 even for an unknown key or a bad value, which systemd ignores; it prints them.
  assert.equal(verify.output.trim(), '', `systemd-analyze verify said:\n${verify.output}`);

  const security = run('systemd-analyze', ['security', '--offline=true', `--threshold=${MAX_EXPOSURE_TENTHS}`, UNIT]);
  assert.equal(security.status, 0, `exposure above ${MAX_EXPOSURE_TENTHS / 10}:\n${security.output}`);
  assert.match(security.output, /Overall exposure level for runner\.service: \d\.\d OK/);

  // The JavaScript engines compile to machine code at run time: the unit must not forbid writable executable memory.
  const unit = readFileSync(UNIT, 'utf8');
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=(yes|true|1)/m);
  assert.match(unit, /^KillMode=mixed$/m, 'SIGTERM goes to the runner alone, which stops its jobs itself');

  // Root, to start each job as a user of its own (`user`), with only the capabilities that takes; jobs get none.
  assert.doesNotMatch(unit, /^User=/m, 'the runner runs as root');
  const bounding = /^CapabilityBoundingSet=(.*)$/m.exec(unit)?.[1]?.split(/\s+/).sort();
  assert.deepEqual(bounding, CAPABILITIES);
  assert.match(unit, /^AmbientCapabilities=$/m);
  assert.match(unit, /^NoNewPrivileges=true$/m);
  assert.match(unit, /^ProtectProc=invisible$/m, 'a job sees no process of another user');
  assert.match(unit, /^UMask=0077$/m);
  assert.match(unit, /^ConfigurationDirectoryMode=0700$/m, "config.toml is out of the jobs' reach");
  assert.match(unit, /^#\s+user = "runner-job"/m, 'the header shows the user setting');
});
