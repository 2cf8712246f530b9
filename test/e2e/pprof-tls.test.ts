// /debug/pprof behind the exporter toolkit's web config, fetched by pprof
// itself as operators do: over HTTPS with a private CA, with the client
// certificate the runner requires, and with basic auth as a pprof_users user.
//
// `go tool pprof` takes -tls_cert, -tls_key and -tls_ca but fetches without
// them: the Go distribution replaces upstream pprof's fetcher with its own
// (src/cmd/pprof/pprof.go), which knows only https+insecure:// and the
// system's roots. So the client certificate is presented by upstream pprof's
// command line, the same driver built from the copy Go vendors
// (test/support/pprof-driver), and `go tool pprof` itself is run where it can
// be: trusting the CA through SSL_CERT_FILE, with basic auth in the URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtime } from '../../src/runtime/runtime.ts';
import { buildPprofDriver, type PprofRun, rawSampleLines, rawSampleTypes, runPprof, vendoredPprof } from '../support/pprof.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';
import { type Certificate, GO_CLIENT_REFUSED_WITHOUT_CERTIFICATE, type PrivateCa, privateCa, writeWebConfig } from '../support/tls.ts';
import { skipUnless } from '../support/tools.ts';

const HEAP_SAMPLE_TYPES = runtime.name === 'bun' ? 'inuse_objects/count inuse_space/bytes[dflt]' : 'samples/count inuse_space/bytes[dflt]';
const OPERATOR = 'operator';
const OPERATOR_PASSWORD = 'profile-me-0123';
/** A user the web config lets in, but not pprof_users. */
const SCRAPER = 'scraper';
const SCRAPER_PASSWORD = 'scrape-only-0123';

const noGo = skipUnless('go', 'golang-go', 'version');
const noDriver = noGo || (vendoredPprof() === undefined && 'this Go distribution vendors no github.com/google/pprof to build the pprof driver from');
const TIMEOUT = { timeout: 120_000 };

let dir: string;
let ca: PrivateCa;
let client: Certificate;
let caPem: string;
/** TLS with RequireAndVerifyClientCert (--web-config-file). */
let mutual: Promise<RunningRunner> | undefined;
/** TLS and basic auth, profiles for pprof_users only (web_config_file, pprof_users in config.toml). */
let basic: Promise<RunningRunner> | undefined;
let driver: string | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'runner-pprof-tls-'));
  mkdirSync(join(dir, 'ca'));
  ca = privateCa(join(dir, 'ca'));
  client = ca.client('operator');
  caPem = readFileSync(ca.caFile, 'utf8');
});

after(async () => {
  await Promise.all([mutual, basic].map(async (started) => (await started?.catch(() => undefined))?.stop()));
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

function mutualRunner(): Promise<RunningRunner> {
  if (mutual === undefined) {
    const cwd = join(dir, 'mutual');
    mkdirSync(cwd);
    mutual = startRunner(['--web-config-file', writeWebConfig(ca, 'web-mutual.yml', { clientCertificates: true })], { cwd });
  }
  return mutual;
}

function basicRunner(): Promise<RunningRunner> {
  if (basic === undefined) {
    const cwd = join(dir, 'basic');
    mkdirSync(cwd);
    const web = writeWebConfig(ca, 'web-basic.yml', { users: { [OPERATOR]: OPERATOR_PASSWORD, [SCRAPER]: SCRAPER_PASSWORD } });
    writeFileSync(join(cwd, 'config.toml'), `web_config_file = ${JSON.stringify(web)}\npprof_users = ["${OPERATOR}"]\n`);
    basic = startRunner([], { cwd });
  }
  return basic;
}

/** The pprof driver's binary, built on first use. */
function pprofDriver(): string {
  driver ??= buildPprofDriver(join(dir, 'driver'));
  return driver;
}

/** Upstream pprof's `-raw` of `path` on the mutual-TLS runner, with `tls` flags. */
async function driverRaw(path: string, tls: readonly string[]): Promise<PprofRun & { runner: RunningRunner }> {
  const runner = await mutualRunner();
  const binary = pprofDriver();
  return { ...await runPprof([binary, ...tls, '-raw', `${runner.url}${path}`]), runner };
}

/** One GET over HTTPS with the client certificate, on a connection of its own; resolves with the status. */
function getWithCertificate(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, cert: client.cert, key: client.key, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Scrapes /metrics over HTTPS until `done` settles, so that a CPU profile has work to sample; resolves with what `done` did and the scrapes answered 200. */
async function scrapesDuring<T>(runner: RunningRunner, done: Promise<T>): Promise<{ result: T; scrapes: number }> {
  let finished = false;
  const result = done.finally(() => {
    finished = true;
  });
  let scrapes = 0;
  while (!finished) {
    if ((await getWithCertificate(`${runner.url}/metrics`).catch(() => 0)) === 200) scrapes++;
  }
  return { result: await result, scrapes };
}

/** pprof's flags for the client certificate and the CA. */
function withClientCertificate(): string[] {
  return ['-tls_cert', client.certFile, '-tls_key', client.keyFile, '-tls_ca', ca.caFile];
}

/** The output shows the sample types and at least one sample. */
function assertSamples(output: string, sampleTypes: string): void {
  assert.equal(rawSampleTypes(output), sampleTypes, output);
  assert.ok(rawSampleLines(output).length > 0, `samples in:\n${output}`);
}

test('pprof fetches a CPU profile (seconds=1) over HTTPS with a client certificate', { skip: noDriver, ...TIMEOUT }, async () => {
  // The runner started and pprof built first, so that the scrapes are all in the profile's window.
  const runner = await mutualRunner();
  pprofDriver();
  const { result: { status, output }, scrapes } = await scrapesDuring(runner, driverRaw('/debug/pprof/profile?seconds=1', withClientCertificate()));
  assert.ok(scrapes > 0, 'the runner had scrapes to answer during the profile');
  assert.equal(status, 0, `${output}\n${runner.tail()}`);
  assert.match(output, /^Fetching profile over HTTP from https:\/\/127\.0\.0\.1:\d+\/debug\/pprof\/profile\?seconds=1$/m);
  assert.match(output, /^PeriodType: cpu nanoseconds$/m);
  const duration = Number(output.match(/^Duration: ([\d.]+)/m)?.[1]);
  assert.ok(duration >= 0.9 && duration < 10, `a one-second window: ${duration} s`);
  assertSamples(output, 'samples/count cpu/nanoseconds[dflt]');
});

test('pprof fetches the heap profile over HTTPS with a client certificate', { skip: noDriver, ...TIMEOUT }, async () => {
  const { status, output, runner } = await driverRaw('/debug/pprof/heap', withClientCertificate());
  assert.equal(status, 0, `${output}\n${runner.tail()}`);
  assertSamples(output, HEAP_SAMPLE_TYPES);
});

test('pprof without a client certificate is refused in the handshake', { skip: noDriver, ...TIMEOUT }, async () => {
  const { status, output } = await driverRaw('/debug/pprof/heap', ['-tls_ca', ca.caFile]);
  assert.notEqual(status, 0, output);
  assert.match(output, GO_CLIENT_REFUSED_WITHOUT_CERTIFICATE);
  assert.doesNotMatch(output, /^Samples:$/m);
});

/** `go tool pprof -raw` of `path` on the basic-auth runner as `user`, trusting the private CA through SSL_CERT_FILE. */
async function goToolRaw(path: string, user: string, password: string): Promise<PprofRun & { runner: RunningRunner }> {
  const runner = await basicRunner();
  const url = new URL(`${runner.url}${path}`);
  url.username = user;
  url.password = password;
  return { ...await runPprof(['go', 'tool', 'pprof', '-raw', url.href], { SSL_CERT_FILE: ca.caFile }), runner };
}

test('go tool pprof fetches the heap profile over HTTPS (the private CA) as a pprof_users user', { skip: noGo, ...TIMEOUT }, async () => {
  const { status, output, runner } = await goToolRaw('/debug/pprof/heap', OPERATOR, OPERATOR_PASSWORD);
  assert.equal(status, 0, `${output}\n${runner.tail()}`);
  assertSamples(output, HEAP_SAMPLE_TYPES);
});

test('go tool pprof as a user the web config admits but pprof_users does not is a 403', { skip: noGo, ...TIMEOUT }, async () => {
  const { status, output } = await goToolRaw('/debug/pprof/heap', SCRAPER, SCRAPER_PASSWORD);
  assert.notEqual(status, 0, output);
  assert.match(output, /server response: 403 Forbidden/);
  assert.doesNotMatch(output, /^Samples:$/m);
});
