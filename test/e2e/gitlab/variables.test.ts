// The variables the runner itself gives a GitLab job, as GitLab Runner does
// (common/build.go, config.go): CI_RUNNER_SHORT_TOKEN, the config's
// environment, CI_BUILDS_DIR, CI_PROJECT_DIR, CI_CONCURRENT_ID and
// CI_CONCURRENT_PROJECT_ID, CI_SERVER=yes, RUNNER_TEMP_PROJECT_DIR,
// CI_SHARED_ENVIRONMENT, CI_SERVER_TLS_CA_FILE from the coordinator's chain
// over https; GIT_DEPTH only when the job has it; and the runner's token
// nowhere a job can see it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGitRepository, TestCoordinator } from '../../support/coordinator/coordinator.ts';
import { selfSignedCertificate } from '../../support/tls.ts';
import { skipUnless } from '../../support/tools.ts';
import {
  between,
  gitlabConfig,
  logLines,
  logText,
  runJob,
  RUNNER_TOKEN,
  sharedGitLabRunner,
  SHORT_TOKEN,
  show,
  startRunnerWithoutGitCaVariable,
  withoutSources,
} from './harness.ts';

const gitSkip = skipUnless('git', 'git');
const opensslSkip = skipUnless('openssl', 'openssl', 'version');

const shared = sharedGitLabRunner({ runner: 'environment = ["RUNNER_ENV=from config", "OVERRIDDEN=by config"]\n' });
after(() => shared.close());

/** A script line per variable: `NAME=value`, or `NAME unset`. */
const print = (...names: string[]): string[] => names.map((name) => `if [ -n "\${${name}+set}" ]; then echo "${name}=$${name}"; else echo "${name} unset"; fi`);

test("the runner's own variables: short token, config environment, directories, concurrency ids, CI_SERVER, shared environment", async () => {
  const s = await shared.get();
  const job = await runJob(
    s.coordinator,
    withoutSources({
      projectPath: 'group/vars',
      timeoutSeconds: 1234,
      script: [
        ...print(
          'CI_RUNNER_SHORT_TOKEN',
          'RUNNER_ENV',
          'OVERRIDDEN',
          'CI_BUILDS_DIR',
          'CI_PROJECT_DIR',
          'RUNNER_TEMP_PROJECT_DIR',
          'CI_CONCURRENT_ID',
          'CI_CONCURRENT_PROJECT_ID',
          'CI_SERVER',
          'CI_SHARED_ENVIRONMENT',
          'CI_DISPOSABLE_ENVIRONMENT',
          'CI_JOB_STATUS',
          'CI_JOB_TIMEOUT',
          'CI_RUNNER_EXECUTABLE_ARCH',
          'GIT_DEPTH',
          'CI_SERVER_TLS_CA_FILE',
        ),
        'echo "pwd=$(pwd)"',
      ],
      variables: [{ key: 'OVERRIDDEN', value: 'by the job' }],
    }),
  );
  const text = logText(job.trace);
  assert.equal(job.state, 'success', text);
  const projectDir = join(s.dir, 'builds', SHORT_TOKEN, '0', 'group', 'vars');
  for (
    const line of [
      `CI_RUNNER_SHORT_TOKEN=${SHORT_TOKEN}`,
      'RUNNER_ENV=from config',
      'OVERRIDDEN=by the job',
      `CI_BUILDS_DIR=${join(s.dir, 'builds')}`,
      `CI_PROJECT_DIR=${projectDir}`,
      `RUNNER_TEMP_PROJECT_DIR=${projectDir}.tmp`,
      'CI_CONCURRENT_ID=0',
      'CI_CONCURRENT_PROJECT_ID=0',
      'CI_SERVER=yes',
      'CI_SHARED_ENVIRONMENT=true',
      'CI_DISPOSABLE_ENVIRONMENT unset',
      'CI_JOB_STATUS=running',
      'CI_JOB_TIMEOUT=1234',
      'GIT_DEPTH unset',
      'CI_SERVER_TLS_CA_FILE unset',
      `pwd=${projectDir}`,
    ]
  ) {
    assert.ok(text.includes(`\n${line}\n`), `${line} in:\n${text}`);
  }
  assert.match(text, /\nCI_RUNNER_EXECUTABLE_ARCH=linux\/\w+\n/);

  // GIT_DEPTH is the job's, when it has one (GitLab sends it as a variable and as git_info.depth).
  const deep = await runJob(s.coordinator, withoutSources({ script: print('GIT_DEPTH'), variables: [{ key: 'GIT_DEPTH', value: '5' }], gitDepth: 5 }));
  assert.ok(logLines(deep.trace).includes('GIT_DEPTH=5'));
});

test("the runner's token is nowhere a job can see it: not in its environment, its files, nor its log", async () => {
  const s = await shared.get();
  // The token without its prefix: what a job would find if it leaked (the prefixed form would be masked in the log anyway).
  const needle = RUNNER_TOKEN.replace(/^glrt-/, '');
  const job = await runJob(
    s.coordinator,
    withoutSources({
      script: [
        'echo "in env: $(env | grep -v "^NEEDLE=" | grep -cF -- "$NEEDLE" || true)"',
        'echo "in files: $(grep -rlF -- "$NEEDLE" "$CI_BUILDS_DIR" "$RUNNER_TEMP_PROJECT_DIR" 2>/dev/null | wc -l)"',
        // The stage's shell is the runner's child: its command line and environment.
        'echo "in the runner process: $(cat /proc/$PPID/cmdline /proc/$PPID/environ | tr "\\0" "\\n" | grep -cF -- "$NEEDLE" || true)"',
        `echo "${RUNNER_TOKEN.slice(0, 5)}$NEEDLE"`,
      ],
      variables: [{ key: 'NEEDLE', value: needle }],
    }),
  );
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('in env: 0'), lines.join('\n'));
  assert.ok(lines.includes('in files: 0'), lines.join('\n'));
  assert.ok(lines.includes('in the runner process: 0'), lines.join('\n'));
  assert.ok(lines.includes('glrt-[MASKED]'), 'a runner token printed by a job is masked by its prefix');
  assert.ok(!job.trace.includes(RUNNER_TOKEN));
});

test('over https without tls-ca-file, CI_SERVER_TLS_CA_FILE holds the chain the coordinator showed, and git trusts it for the clone', {
  skip: opensslSkip || gitSkip,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-gitlab-chain-'));
  const certificate = selfSignedCertificate(dir);
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], tls: { key: certificate.key, cert: certificate.cert } });
  writeFileSync(join(dir, 'config.toml'), gitlabConfig(coordinator.url), { mode: 0o600 });
  const runner = await startRunnerWithoutGitCaVariable(dir, { NODE_EXTRA_CA_CERTS: certificate.certFile });
  try {
    const repository = createGitRepository(join(dir, 'repo'), { 'a.txt': 'over tls\n' });
    const job = await runJob(coordinator, { repository, script: ['cat a.txt', show('ca', 'cat "$CI_SERVER_TLS_CA_FILE"; echo')] });
    const text = logText(job.trace);
    assert.equal(job.state, 'success', text);
    assert.ok(text.includes('over tls\n'), text);
    const pem = between(job.trace, 'ca').join('\n').trim();
    assert.equal(pem, certificate.cert.trim());
    assert.match(text, /\$ cat a\.txt\n/);
    assert.ok(!job.trace.includes(job.token));
  } finally {
    await runner.stop('SIGTERM', 5_000);
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
