// deploy/web-config.yml, the example web config the kit ships, loaded by the
// runner's own loadWebConfig on this runtime as an operator would use it
// (its /etc/runner/tls/ files replaced by certificates made here): as
// shipped, with each commented option uncommented, and with its bcrypt
// hashes well formed, of cost 10, and of no password one would guess.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { runtime } from '../../src/runtime/runtime.ts';
import { comparableHash } from '../../src/server/web-config/bcrypt-hash.ts';
import { loadWebConfig } from '../../src/server/web-config/load-web-config.ts';
import { exampleWebConfig, WEB_CONFIG_EXAMPLE } from '../support/web-config-example.ts';
import { type PrivateCa, privateCa } from '../support/tls.ts';
import { skipUnless } from '../support/tools.ts';

const NO_OPENSSL = skipUnless('openssl', 'openssl', 'version');

let dir: string;
let ca: PrivateCa;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'runner-web-config-example-'));
  if (NO_OPENSSL === false) ca = privateCa(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'deploy/web-config.yml loads as shipped: TLS 1.3 with the certificate it names, no client certificates, two users, its headers',
  { skip: NO_OPENSSL },
  () => {
    const loaded = loadWebConfig(exampleWebConfig(join(dir, 'shipped'), ca), dir);
    const { tls, users, headers, rateLimit } = loaded.config;
    assert.ok(tls !== undefined, 'TLS is on');
    assert.equal(tls.minVersion, 'TLS13');
    assert.equal(tls.clientAuthType, 'NoClientCert');
    assert.equal(loaded.material?.cert, ca.server.cert);
    assert.equal(loaded.material?.key, ca.server.key);
    assert.deepEqual([...users.keys()], ['prometheus', 'ops']);
    assert.deepEqual(headers, { 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'deny', 'Content-Security-Policy': "default-src 'none'" });
    assert.equal(rateLimit, undefined);
  },
);

test('deploy/web-config.yml with its client certificate lines uncommented asks for a certificate from the client CA', { skip: NO_OPENSSL }, () => {
  const loaded = loadWebConfig(exampleWebConfig(join(dir, 'client-certificates'), ca, { clientCertificates: true }), dir);
  assert.equal(loaded.config.tls?.clientAuthType, 'RequireAndVerifyClientCert');
  assert.equal(loaded.config.tls?.clientAllowedSans, undefined);
  assert.equal(loaded.material?.ca, readFileSync(ca.caFile, 'utf8'));
});

test('deploy/web-config.yml with client_allowed_sans uncommented loads, but on Bun, which it says it is refused on', { skip: NO_OPENSSL }, () => {
  const file = exampleWebConfig(join(dir, 'allowed-sans'), ca, { allowedSans: true });
  if (runtime.name === 'bun') {
    assert.throws(() => loadWebConfig(file, dir), /client_allowed_sans is not supported on Bun/);
    return;
  }
  assert.deepEqual(loadWebConfig(file, dir).config.tls?.clientAllowedSans, ['prometheus.ci.example.com']);
});

test('deploy/web-config.yml with its rate limit uncommented loads', { skip: NO_OPENSSL }, () => {
  const loaded = loadWebConfig(exampleWebConfig(join(dir, 'rate-limit'), ca, { rateLimit: true }), dir);
  assert.deepEqual(loaded.config.rateLimit, { intervalMs: 100, burst: 20 });
});

test("deploy/web-config.yml's bcrypt hashes are of cost 10, usable by bcrypt, and of no placeholder password", async () => {
  const text = readFileSync(WEB_CONFIG_EXAMPLE, 'utf8');
  const hashes = [...text.matchAll(/^ {2}(\w+): (\$2[aby]?\$\S+)$/gm)].map(([, user, hash]) => ({ user: user!, hash: hash! }));
  assert.deepEqual(hashes.map(({ user }) => user), ['prometheus', 'ops']);
  assert.match(text, /htpasswd -nBC 10 "" \| tr -d ':\\n'/, 'the file says how to make a hash, at the cost it uses');
  for (const { user, hash } of hashes) {
    // bcryptjs reads the cost and the salt (it throws on a malformed one) and compares.
    assert.equal(bcrypt.getRounds(comparableHash(hash)), 10, `${user}'s hash is of cost 10`);
    assert.equal(hash.length, 60, `${user}'s hash is a whole bcrypt hash`);
    // An example copied as it is must let nobody in with a password one would try.
    for (const guess of ['', user, 'password', 'changeme']) {
      assert.equal(await bcrypt.compare(guess, comparableHash(hash)), false, `${user}'s hash is not of ${JSON.stringify(guess)}`);
    }
  }
  assert.notEqual(hashes[0]!.hash, hashes[1]!.hash);
});
