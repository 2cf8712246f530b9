// A real Prometheus server scrapes the runner as the exporter toolkit's web
// config (web_config_file) has it serve: over HTTPS with a private CA, with
// basic auth, and with a client certificate the runner requires; the values
// come back through Prometheus's HTTP API. And what Prometheus says when a
// scrape is refused: a wrong password, a CA it does not trust, no client
// certificate.
//
// Two runners and one Prometheus for all the tests of this file: one runner
// with TLS and basic auth (web_config_file in config.toml, concurrent = 2),
// one with TLS and RequireAndVerifyClientCert (--web-config-file,
// concurrent = 3), so that a value read back also says which runner it came from.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEADLINE_MS, PROMETHEUS, queryUntil, RunnerAndPrometheus, type Sample, targetDown, targetUp } from '../support/prometheus-server.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';
import { GO_CLIENT_REFUSED_WITHOUT_CERTIFICATE, privateCa, writeWebConfig } from '../support/tls.ts';
import { skipUnless } from '../support/tools.ts';

const USER = 'prometheus';
const PASSWORD = 'scrape-me-0123';
const OPTIONS = { skip: skipUnless(PROMETHEUS, 'prometheus'), timeout: 90_000 };
interface Scraped {
  readonly api: string;
  /** Throws a Fatal error once Prometheus or a runner has exited. */
  readonly check: () => void;
  /** TLS and basic auth. */
  readonly basic: RunningRunner;
  /** TLS and RequireAndVerifyClientCert. */
  readonly mutual: RunningRunner;
}

const session = new RunnerAndPrometheus();
let dir: string | undefined;
let started: Promise<Scraped> | undefined;

/** A job of the scrape configuration: HTTPS to `target`, with these TLS settings and basic auth. */
function httpsJob(name: string, target: string, tls: Record<string, string>, basicAuth?: { username: string; password: string }) {
  return {
    job_name: name,
    scheme: 'https',
    tls_config: tls,
    ...(basicAuth === undefined ? {} : { basic_auth: basicAuth }),
    static_configs: [{ targets: [target] }],
  };
}

async function start(root: string): Promise<Scraped> {
  const caDir = join(root, 'ca');
  mkdirSync(caDir);
  const ca = privateCa(caDir);
  const client = ca.client('prometheus');

  const basicDir = join(root, 'basic');
  const mutualDir = join(root, 'mutual');
  mkdirSync(basicDir);
  mkdirSync(mutualDir);
  const basicWeb = writeWebConfig(ca, 'web-basic.yml', { users: { [USER]: PASSWORD } });
  writeFileSync(join(basicDir, 'config.toml'), `concurrent = 2\nweb_config_file = ${JSON.stringify(basicWeb)}\n`);
  writeFileSync(join(mutualDir, 'config.toml'), 'concurrent = 3\n');
  const mutualWeb = writeWebConfig(ca, 'web-mutual.yml', { clientCertificates: true });

  // Both at once; each one that started is the session's to stop, whichever failed.
  const [basic, mutual] = await Promise.allSettled([
    startRunner([], { cwd: basicDir }),
    startRunner(['--web-config-file', mutualWeb], { cwd: mutualDir }),
  ]);
  if (basic.status === 'fulfilled') session.runner = basic.value;
  if (mutual.status === 'fulfilled') session.moreRunners.push(mutual.value);
  for (const result of [basic, mutual]) if (result.status === 'rejected') throw result.reason;
  const [basicRunner, mutualRunner] = [session.runner!, session.moreRunners[0]!];

  const basicTarget = new URL(basicRunner.url).host;
  const mutualTarget = new URL(mutualRunner.url).host;
  const caOnly = { ca_file: ca.caFile };
  const config = join(root, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [
        httpsJob('basic-auth', basicTarget, caOnly, { username: USER, password: PASSWORD }),
        httpsJob('wrong-password', basicTarget, caOnly, { username: USER, password: `${PASSWORD}-not` }),
        httpsJob('client-certificate', mutualTarget, { ...caOnly, cert_file: client.certFile, key_file: client.keyFile }),
        httpsJob('no-client-certificate', mutualTarget, caOnly),
        // The system's roots only: the private CA is not among them.
        httpsJob('unknown-ca', basicTarget, {}, { username: USER, password: PASSWORD }),
      ],
    }),
  );
  const { api, check } = await session.startPrometheus(root, config);
  return { api, check, basic: basicRunner, mutual: mutualRunner };
}

/** The runners and Prometheus, started by the first test that asks. */
function scraped(): Promise<Scraped> {
  if (started === undefined) {
    const root = dir = mkdtempSync(join(tmpdir(), 'runner-prometheus-tls-'));
    started = start(root);
  }
  return started;
}

after(async () => {
  await session.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const values = (samples: readonly Sample[]): string[] => samples.map((sample) => sample.value);

/** The target of `job` is up, scraped at runner's https URL, and `up` and ci_runner_concurrent come back through the query API. */
async function assertScraped(job: string, runner: (s: Scraped) => RunningRunner, concurrent: string): Promise<void> {
  await session.diagnosed(async () => {
    const s = await scraped();
    const deadline = Date.now() + DEADLINE_MS;
    const up = await targetUp(s.api, job, deadline, s.check);
    assert.match(up.scrapeUrl, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.equal(up.scrapeUrl, `${runner(s).url}/metrics`);
    assert.equal(up.lastError, '', `the scrape reported an error: ${up.lastError}`);
    assert.deepEqual(values(await queryUntil(s.api, `up{job="${job}"}`, deadline, s.check)), ['1']);
    assert.deepEqual(values(await queryUntil(s.api, `ci_runner_concurrent{job="${job}"}`, deadline, s.check)), [concurrent]);
  });
}

/** The target of `job` is down with an error that matches `why`, and `up` is 0. */
async function assertRefused(job: string, why: RegExp): Promise<void> {
  await session.diagnosed(async () => {
    const s = await scraped();
    const deadline = Date.now() + DEADLINE_MS;
    const down = await targetDown(s.api, job, deadline, s.check);
    assert.match(down.lastError, why);
    assert.deepEqual(values(await queryUntil(s.api, `up{job="${job}"}`, deadline, s.check)), ['0']);
  });
}

test('Prometheus scrapes the runner over HTTPS (a private CA) with basic auth', OPTIONS, async () => {
  await assertScraped('basic-auth', (s) => s.basic, '2');
});

test('Prometheus scrapes the runner over HTTPS with the client certificate it requires', OPTIONS, async () => {
  await assertScraped('client-certificate', (s) => s.mutual, '3');
});

test('a scrape with the wrong password is down: 401', OPTIONS, async () => {
  await assertRefused('wrong-password', /server returned HTTP status 401 Unauthorized/);
});

test('a scrape that does not trust the private CA is down: unknown authority', OPTIONS, async () => {
  await assertRefused('unknown-ca', /x509: certificate signed by unknown authority/);
});

test('a scrape without a client certificate is down: the handshake is refused', OPTIONS, async () => {
  await assertRefused('no-client-certificate', GO_CLIENT_REFUSED_WITHOUT_CERTIFICATE);
});
