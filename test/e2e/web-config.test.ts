// The server behind a web config, as curl and openssl see it: basic auth
// (401 with WWW-Authenticate), client certificates refused at the handshake,
// TLS versions below min_version refused, a rotated certificate served after
// SIGHUP without a restart and a bad one refused (the old kept, counted), the
// profiles' stricter rule, and the warning about plain HTTP beyond loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import bcrypt from 'bcryptjs';
import { runtime } from '../../src/runtime/runtime.ts';
import { runCli, type RunningRunner, startProcess } from '../support/runner-process.ts';
import { type PrivateCa, privateCa } from '../support/tls.ts';
import { skipUnless } from '../support/tools.ts';

const skip = skipUnless('curl', 'curl') || skipUnless('openssl', 'openssl', 'version');
const LISTENING = /Metrics server listening\s+address=\S*:(\d+)/;

let dir: string;
let ca: PrivateCa;
const runners: RunningRunner[] = [];

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'runner-web-config-e2e-'));
  ca = privateCa(dir);
});
after(async () => {
  await Promise.all(runners.map((runner) => runner.stop()));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Cost 4, the lowest bcrypt allows, keeps the first check of each credential quick. */
const hash = (password: string): string => bcrypt.hashSync(password, 4);

/** Starts `runner run` with this web config and config.toml lines; resolves with it and its port. */
async function start(name: string, webConfig: string, toml = '', address = '127.0.0.1:0'): Promise<{ runner: RunningRunner; port: number; webFile: string }> {
  const webFile = join(dir, `${name}.yml`);
  writeFileSync(webFile, webConfig);
  const config = join(dir, `${name}.toml`);
  writeFileSync(
    config,
    `metrics_server = "${address}"\nweb_config_file = "${webFile}"\n${toml}\n[[runners]]\nname = "${name}"\nqueue_dir = "${join(dir, `${name}-queue`)}"\n`,
  );
  const runner = await startProcess(['run', '--config', config], /Runner ready/, { cwd: dir });
  runners.push(runner);
  return { runner, port: Number(runner.logs().match(LISTENING)?.[1]), webFile };
}

interface CurlResult {
  /** curl's exit code: 0, or why the transfer failed (35: TLS handshake, 56: receive failure). */
  readonly code: number;
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

function curl(args: readonly string[]): CurlResult {
  const headersFile = join(dir, `headers-${Math.random().toString(36).slice(2)}`);
  const result = spawnSync('curl', ['-sS', '--max-time', '10', '-D', headersFile, '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  const out = result.stdout ?? '';
  const cut = out.lastIndexOf('\n');
  let headers = '';
  try {
    headers = spawnSync('cat', [headersFile], { encoding: 'utf8' }).stdout ?? '';
  } finally {
    rmSync(headersFile, { force: true });
  }
  return { code: result.status ?? -1, status: Number(out.slice(cut + 1)), headers, body: out.slice(0, cut) };
}

/** The CN of the certificate the server presents now. */
function servedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.caFile ? [ca.server.cert] : [], rejectUnauthorized: false }, () => {
      const subject = socket.getPeerCertificate().subject;
      socket.destroy();
      resolve(String(subject?.CN ?? ''));
    });
    socket.once('error', reject);
  });
}

function metric(body: string, name: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} missing`);
  return Number(line.slice(name.length + 1));
}

describe('web config', { skip }, () => {
  test('basic auth over TLS 1.3 only: 401 with WWW-Authenticate for a wrong or missing password, the metrics for the right one', async () => {
    const users = `basic_auth_users:\n  prom: ${hash('s3cret')}\n`;
    const tls = `tls_server_config:\n  cert_file: ${ca.server.certFile}\n  key_file: ${ca.server.keyFile}\n  min_version: TLS13\n`;
    const { port } = await start('auth', `${tls}${users}http_server_config:\n  headers:\n    X-Frame-Options: deny\n`);
    const url = `https://localhost:${port}/metrics`;
    const wrong = curl(['--cacert', ca.caFile, '-u', 'prom:wrong', url]);
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers, /^www-authenticate: Basic\r?$/im);
    assert.match(wrong.headers, /^x-frame-options: deny\r?$/im, 'the web config headers on every answer');
    assert.equal(curl(['--cacert', ca.caFile, url]).status, 401, 'no credentials');
    assert.equal(curl(['--cacert', ca.caFile, '-u', 'nobody:s3cret', url]).status, 401, 'an unknown user');
    const right = curl(['--cacert', ca.caFile, '-u', 'prom:s3cret', url]);
    assert.equal(right.status, 200);
    assert.match(right.body, /^ci_runner_web_config_last_load_successful 1$/m);
    // Below min_version the handshake fails: curl's 35 is "SSL connect error".
    const old = curl(['--cacert', ca.caFile, '-u', 'prom:s3cret', '--tls-max', '1.2', url]);
    assert.notEqual(old.code, 0);
    assert.equal(old.status, 0, 'no HTTP answer at all');
    // Plain HTTP to the HTTPS port gets no metrics.
    assert.notEqual(curl(['-u', 'prom:s3cret', `http://127.0.0.1:${port}/metrics`]).status, 200);
  });

  test('a client certificate is required and verified: none, or one of another CA, is refused at the handshake', async () => {
    const client = ca.client('prometheus');
    const stranger = privateCa(mkdtempSync(join(dir, 'other-ca-'))).client('stranger');
    const { port } = await start(
      'mtls',
      `tls_server_config:\n  cert_file: ${ca.server.certFile}\n  key_file: ${ca.server.keyFile}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${ca.caFile}\n`,
    );
    const url = `https://localhost:${port}/metrics`;
    const none = curl(['--cacert', ca.caFile, url]);
    assert.notEqual(none.code, 0, 'refused');
    assert.equal(none.status, 0, 'refused before any HTTP');
    const other = curl(['--cacert', ca.caFile, '--cert', stranger.certFile, '--key', stranger.keyFile, url]);
    assert.notEqual(other.code, 0);
    assert.equal(other.status, 0);
    const good = curl(['--cacert', ca.caFile, '--cert', client.certFile, '--key', client.keyFile, url]);
    assert.equal(good.status, 200, good.body);
    assert.match(good.body, /^# TYPE ci_runner_builds gauge$/m);
  });

  test('allowed SANs: a verified certificate without one of them is refused (not on Bun, which refuses the key)', async (t) => {
    const web = (sans: string) =>
      `tls_server_config:\n  cert_file: ${ca.server.certFile}\n  key_file: ${ca.server.keyFile}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${ca.caFile}\n  client_allowed_sans: [${sans}]\n`;
    if (runtime.name === 'bun') {
      writeFileSync(join(dir, 'sans.yml'), web('"prometheus"'));
      const refused = await runCli(['run', '--metrics-server', '127.0.0.1:0', '--web-config-file', join(dir, 'sans.yml')], { cwd: dir });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /^runner: web config file ".*sans\.yml": tls_server_config\.client_allowed_sans is not supported on Bun: .*\n$/);
      t.diagnostic('Bun cannot read the client certificate: the key is refused');
      return;
    }
    const { port } = await start('sans', web('"spiffe://ci/prometheus", "other"'));
    const url = `https://localhost:${port}/metrics`;
    const allowed = ca.client('allowed', ['DNS:scraper.example', 'URI:spiffe://ci/prometheus']);
    const otherSan = ca.client('not-allowed', ['DNS:prometheus']);
    assert.equal(curl(['--cacert', ca.caFile, '--cert', allowed.certFile, '--key', allowed.keyFile, url]).status, 200);
    const refused = curl(['--cacert', ca.caFile, '--cert', otherSan.certFile, '--key', otherSan.keyFile, url]);
    assert.notEqual(refused.status, 200);
  });

  test('a rotated certificate is served after SIGHUP without a restart; a bad one is refused, logged and counted, the old one kept', async () => {
    const cert = join(dir, 'rotating.pem');
    const key = join(dir, 'rotating.key');
    copyFileSync(ca.server.certFile, cert);
    copyFileSync(ca.server.keyFile, key);
    const users = `basic_auth_users:\n  prom: ${hash('pw')}\n`;
    const { runner, port } = await start('rotate', `tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n${users}`);
    const pid = runner.pid;
    assert.equal(await servedCommonName(port), 'server');
    const rotated = ca.serverAlso('rotated');
    copyFileSync(rotated.keyFile, key);
    copyFileSync(rotated.certFile, cert);
    process.kill(runner.pid, 'SIGHUP');
    await runner.waitForLog(/Web config loaded .*trigger=(SIGHUP|"file changed")/, 10_000);
    assert.equal(await servedCommonName(port), 'rotated', 'the new certificate, same process');
    assert.equal(runner.pid, pid);
    assert.equal(runner.exited, false);

    writeFileSync(key, 'not a key\n');
    process.kill(runner.pid, 'SIGHUP');
    await runner.waitForLog(/Loading the web config failed; keeping the current one .*private key|PEM data in key input/, 10_000);
    assert.equal(await servedCommonName(port), 'rotated', 'the old certificate still served');
    const scrape = curl(['--cacert', ca.caFile, '-u', 'prom:pw', `https://localhost:${port}/metrics`]);
    assert.equal(scrape.status, 200);
    assert.ok(metric(scrape.body, 'ci_runner_web_config_loading_error_total') >= 1);
    assert.equal(metric(scrape.body, 'ci_runner_web_config_last_load_successful'), 0);
  });

  test('profiles: loopback only by default, and only for the users pprof_users lists', async (t) => {
    const users = `basic_auth_users:\n  prom: ${hash('p')}\n  ops: ${hash('o')}\n`;
    const { runner, port } = await start('pprof', users, 'pprof_users = ["ops"]', ':0');
    assert.match(runner.logs(), /WARN\s+The metrics server serves plain HTTP beyond this machine/);
    const local = `http://127.0.0.1:${port}`;
    assert.equal(curl(['-u', 'prom:p', `${local}/metrics`]).status, 200);
    const forbidden = curl(['-u', 'prom:p', `${local}/debug/pprof/`]);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body, /pprof_users/);
    // The rule sees the path the router routes: dot segments cannot walk around it.
    assert.equal(curl(['--path-as-is', '-u', 'prom:p', `${local}/debug/x/../pprof/`]).status, 403);
    assert.equal(curl(['-u', 'ops:o', `${local}/debug/pprof/`]).status, 200);
    assert.equal(curl(['-u', 'ops:o', `${local}/debug/pprof/cmdline`]).status, 200);
    const address = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    if (address === undefined) {
      t.diagnostic('no non-loopback IPv4 address on this machine: the remote half is not tested');
      return;
    }
    const remote = curl(['-u', 'ops:o', `http://${address}:${port}/debug/pprof/`]);
    assert.equal(remote.status, 403, 'a listed user, but not on this machine');
    assert.match(remote.body, /pprof_access = "loopback"/);
    assert.equal(curl(['-u', 'prom:p', `http://${address}:${port}/metrics`]).status, 200, 'the metrics are not restricted so');
  });

  test('a bad web config stops the start with one line naming the file (exit 2)', async () => {
    writeFileSync(join(dir, 'bad.yml'), 'tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n');
    const result = await runCli(['run', '--metrics-server', '127.0.0.1:0', '--web-config-file', 'bad.yml'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^runner: web config file ".*bad\.yml": failed to read cert_file \(.*missing\.pem\): open .*missing\.pem: no such file or directory\n$/,
    );
    assert.doesNotMatch(result.stderr, /Starting runner/, 'refused before anything starts');
  });

  test('what the runtime cannot do is refused at start, with the reason', async () => {
    const web = join(dir, 'ciphers.yml');
    writeFileSync(
      web,
      `tls_server_config:\n  cert_file: ${ca.server.certFile}\n  key_file: ${ca.server.keyFile}\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  max_version: TLS12\n`,
    );
    if (runtime.name === 'deno') {
      const result = await runCli(['run', '--metrics-server', '127.0.0.1:0', '--web-config-file', web], { cwd: dir });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /cipher_suites is not supported on Deno: its TLS \(rustls\)/);
      return;
    }
    const runner = await startProcess(['run', '--metrics-server', '127.0.0.1:0', '--web-config-file', web], /Runner ready/, { cwd: dir });
    runners.push(runner);
    const port = Number(runner.logs().match(LISTENING)?.[1]);
    const url = `https://localhost:${port}/metrics`;
    assert.equal(curl(['--cacert', ca.caFile, url]).status, 200);
    // A suite outside the list: no shared cipher, no handshake.
    assert.notEqual(curl(['--cacert', ca.caFile, '--ciphers', 'ECDHE-RSA-AES256-GCM-SHA384', '--tls-max', '1.2', url]).code, 0);
  });
});
