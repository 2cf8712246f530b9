// The web config files of the exporter toolkit's own tests (web/testdata and
// TestYAMLFiles in prometheus/exporter-toolkit), restated with certificates
// made here: the ones it accepts load, the ones it refuses fail with its
// words, on one line naming the file. Then what this runtime's TLS cannot
// do, refused with a reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWebConfig } from '../../../../src/server/web-config/load-web-config.ts';
import type { TlsServerAbilities } from '../../../../src/runtime/runtime.ts';
import { privateCa } from '../../../support/tls.ts';

const ALL: TlsServerAbilities = { peerCertificate: true, cipherSuites: true, curvePreferences: true, legacyVersions: true, swapCertificate: true };
const TLS = 'tls_server_config:\n  cert_file: "server.crt"\n  key_file: "server.key"\n';
const IF_GIVEN = `${TLS}  client_auth_type: "VerifyClientCertIfGiven"\n`;
/** The toolkit's test users: carol's password is carol123, dave's dave123. */
const USERS =
  'basic_auth_users:\n  carol: $2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu\n  dave: $2y$10$2UXri9cIDdgeKjBo4Rlpx.U3ZLDV8X1IxKmsfOvhcM5oXQt/mLmXq\n';

let dir: string;
let inlineCert: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'runner-web-config-'));
  const made = join(dir, 'ca');
  mkdirSync(made);
  const ca = privateCa(made);
  copyFileSync(ca.server.certFile, join(dir, 'server.crt'));
  copyFileSync(ca.server.keyFile, join(dir, 'server.key'));
  copyFileSync(ca.client('test3').certFile, join(dir, 'client_selfsigned.pem'));
  inlineCert = ca.server.cert;
});
after(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string, abilities: TlsServerAbilities = ALL) {
  const file = join(dir, `web-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, yaml);
  return loadWebConfig(file, dir, abilities);
}

function indented(pem: string): string {
  return pem.trim().split('\n').map((line) => `    ${line}`).join('\n');
}

describe('files the toolkit refuses', () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['invalid structure (junk)', 'hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\nay3RiOtykgt4m6m3KOol\n', /yaml: line 1: expected a mapping/],
    ['invalid key', 'tls_server_config:\n  cert_filse: "server.crt"\n', /yaml: line 2: field cert_filse not found in tls_server_config/],
    ['unknown top-level key', 'tls_config:\n  cert_file: x\n', /yaml: line 1: field tls_config not found in the web config/],
    ['cert path empty', 'tls_server_config:\n  cert_file: ""\n  key_file: "server.key"\n', /missing one of cert or cert_file/],
    ['cert empty', 'tls_server_config:\n  cert: ""\n  key_file: "server.key"\n', /missing one of cert or cert_file/],
    ['key path empty', 'tls_server_config:\n  cert_file: "server.crt"\n  key_file: ""\n', /missing one of key or key_file/],
    ['key empty', 'tls_server_config:\n  cert_file: "server.crt"\n  key: ""\n', /missing one of key or key_file/],
    ['cert and key path empty', 'tls_server_config:\n  cert_file: ""\n  key_file: ""\n  client_auth_type: "x"\n', /missing one of cert or cert_file/],
    ['cert path invalid', 'tls_server_config:\n  cert_file: "somefile"\n  key_file: "server.key"\n', /failed to read cert_file .*somefile.*no such file/],
    ['key path invalid', 'tls_server_config:\n  cert_file: "server.crt"\n  key_file: "somefile"\n', /failed to read key_file .*no such file/],
    ['cert and key path invalid', 'tls_server_config:\n  cert_file: "somefile"\n  key_file: "somefile"\n', /no such file/],
    ['client CA without a policy', `${TLS}  client_ca_file: "/dev/null"\n`, /client CA's have been configured without a Client Auth Policy/],
    ['client CA file invalid', `${TLS}  client_ca_file: "somefile"\n`, /open .*somefile: no such file/],
    ['invalid ClientAuth', `${TLS}  client_auth_type: "Sometimes"\n`, /invalid ClientAuth: "Sometimes"/],
    ['user list invalid', `${TLS}basic_auth_users:\n  john: doe\n`, /user "john": crypto\/bcrypt: hashedSecret too short to be a bcrypted password/],
    ['bad cipher', `${IF_GIVEN}  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048\n`, /unknown cipher: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048/],
    ['bad curve', `${IF_GIVEN}  curve_preferences:\n    - CurveP257\n`, /unknown curve: CurveP257/],
    ['bad TLS version', `${IF_GIVEN}  min_version: TLS111\n`, /unknown TLS version: TLS111/],
    [
      'non-HTTP/2 ciphers with http2 on',
      `${IF_GIVEN}  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  max_version: TLS12\n`,
      /TLSConfig.CipherSuites is missing an HTTP\/2-required/,
    ],
    ['X-Content-Type-Options', 'http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n', /invalid value for X-Content-Type-Options/],
    [
      'X-Frame-Options',
      'http_server_config:\n  headers:\n    X-Frame-Options: foo\n',
      /invalid value for X-Frame-Options\. Expected one of: \["deny" "sameorigin"\]/,
    ],
    ['a header that cannot be set', 'http_server_config:\n  headers:\n    Content-Type: foo\n', /HTTP header "Content-Type" can not be configured/],
    // Go's yaml.UnmarshalStrict refuses a key given twice, and a value of the wrong kind.
    ['a key twice', `${TLS}  cert_file: "again.crt"\n`, /yaml: line 4: Map keys must be unique/],
    ['http2 not a boolean', 'http_server_config:\n  http2: maybe\n', /http_server_config\.http2: expected true or false, got the string "maybe"/],
    ['a list where a string is due', 'tls_server_config:\n  cert_file: [a, b]\n', /tls_server_config\.cert_file: expected a string, got a list/],
    ['rate limit interval', 'rate_limit:\n  interval: soon\n  burst: 1\n', /rate_limit\.interval: time: invalid duration "soon"/],
    ['min above max', `${TLS}  min_version: TLS13\n  max_version: TLS12\n`, /min_version TLS13 is above max_version TLS12/],
    [
      'certificate and key not a pair',
      'tls_server_config:\n  cert_file: "client_selfsigned.pem"\n  key_file: "server.key"\n',
      /private key does not match public key/,
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    test(name, () => {
      assert.throws(() => load(yaml), (error: Error) => {
        assert.match(error.message, expected);
        assert.match(error.message, /^web config file ".*web-[a-z0-9]+\.yml": /);
        assert.doesNotMatch(error.message, /[\n\r]/);
        return true;
      });
    });
  }

  test('a missing file', () => {
    assert.throws(() => loadWebConfig('somefile', dir, ALL), /web config file ".*somefile": open .*somefile: no such file or directory/);
  });

  test('a hash that is not one is named by its user, never shown', () => {
    assert.throws(() => load('basic_auth_users:\n  eve: hunter2-but-long-enough-to-pass-the-length-check-of-go-bcrypt-000\n'), (error: Error) => {
      assert.match(error.message, /user "eve": crypto\/bcrypt: bcrypt hashes must start with '\$', but hashedSecret started with 'h'/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });
});

describe('files the toolkit accepts', () => {
  test('empty: plain HTTP, no users', () => {
    const loaded = load('');
    assert.equal(loaded.config.tls, undefined);
    assert.equal(loaded.config.users.size, 0);
    assert.equal(loaded.material, undefined);
  });

  test('TLS with a client policy: files resolved against the config file, then read', () => {
    const loaded = load(IF_GIVEN);
    assert.equal(loaded.config.tls?.clientAuthType, 'VerifyClientCertIfGiven');
    assert.equal(loaded.config.tls?.certFile, join(dir, 'server.crt'));
    assert.equal(loaded.config.tls?.minVersion, 'TLS12');
    assert.equal(loaded.config.tls?.maxVersion, 'TLS13');
    assert.match(loaded.material?.cert ?? '', /BEGIN CERTIFICATE/);
    assert.deepEqual(loaded.files.slice(1), [join(dir, 'server.crt'), join(dir, 'server.key')]);
  });

  test('all ciphers, some ciphers, no order, all curves, some curves, no HTTP/2', () => {
    const all = [
      'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
      'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
      'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
      'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
      'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
      'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
    ];
    assert.deepEqual(load(`${IF_GIVEN}  cipher_suites:\n${all.map((c) => `  - ${c}\n`).join('')}`).config.tls?.cipherSuites, all);
    const some = load(
      `${IF_GIVEN}  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  prefer_server_cipher_suites: false\n  min_version: TLS12\n  max_version: TLS12\n`,
    );
    assert.equal(some.config.tls?.preferServerCipherSuites, false);
    assert.equal(some.config.tls?.maxVersion, 'TLS12');
    const curves = load(`${IF_GIVEN}  curve_preferences:\n    - CurveP256\n    - CurveP384\n    - CurveP521\n    - X25519\n`);
    assert.deepEqual(curves.config.tls?.curvePreferences, ['CurveP256', 'CurveP384', 'CurveP521', 'X25519']);
    assert.equal(load(`${IF_GIVEN}  min_version: TLS13\n  curve_preferences:\n  - CurveP521\n`).config.tls?.minVersion, 'TLS13');
    const noHttp2 = load(
      `${IF_GIVEN}  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  max_version: TLS12\nhttp_server_config:\n  http2: false\n`,
    );
    assert.equal(noHttp2.config.http2, false);
  });

  test('certificate and key inline, client CA inline; RequireAnyClientCert and its old name', () => {
    const inline = load(`tls_server_config:\n  cert: |\n${indented(inlineCert)}\n  key_file: "server.key"\n  client_auth_type: "RequireAnyClientCert"\n`);
    assert.equal(inline.material?.cert.trim(), inlineCert.trim());
    assert.equal(inline.config.tls?.clientAuthType, 'RequireAnyClientCert');
    assert.equal(load(`${TLS}  client_auth_type: "RequireClientCert"\n`).config.tls?.clientAuthType, 'RequireAnyClientCert');
    const verified = load(`${TLS}  client_auth_type: "RequireAndVerifyClientCert"\n  client_ca_file: "client_selfsigned.pem"\n`);
    assert.match(verified.material?.ca ?? '', /BEGIN CERTIFICATE/);
    assert.deepEqual(verified.files.slice(1), [join(dir, 'server.crt'), join(dir, 'server.key'), join(dir, 'client_selfsigned.pem')]);
    // Without a CA, the runtime's default roots verify (Go's too).
    assert.equal(load(`${TLS}  client_auth_type: "RequireAndVerifyClientCert"\n`).material?.ca, undefined);
  });

  test('allowed SANs', () => {
    const loaded = load(
      `${TLS}  client_auth_type: "RequireAndVerifyClientCert"\n  client_ca_file: "client_selfsigned.pem"\n  client_allowed_sans:\n    - "one"\n    - "test3"\n`,
    );
    assert.deepEqual(loaded.config.tls?.clientAllowedSans, ['one', 'test3']);
    assert.equal(load(TLS).config.tls?.clientAllowedSans, undefined, 'absent: no check');
  });

  test('headers: the five, blank ones left out', () => {
    const loaded = load(
      'http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: ""\n',
    );
    assert.deepEqual(loaded.config.headers, {
      'X-Frame-Options': 'deny',
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
      'X-Content-Type-Options': 'nosniff',
      'X-XSS-Protection': '1',
    });
  });

  test('users with and without TLS; htpasswd $2y$ hashes', () => {
    const withTls = load(`${TLS}${USERS}`);
    assert.deepEqual([...withTls.config.users.keys()], ['carol', 'dave']);
    const plain = load(USERS);
    assert.equal(plain.config.tls, undefined);
    assert.equal(plain.config.users.size, 2);
    assert.equal(load('basic_auth_users:\n').config.users.size, 0, 'an empty list: no basic auth');
  });

  test('rate limit: 0 is off; a Go duration or nanoseconds', () => {
    assert.equal(load('rate_limit:\n  interval: 0\n  burst: 0\n').config.rateLimit, undefined);
    assert.deepEqual(load('rate_limit:\n  interval: "1s"\n  burst: 0\n').config.rateLimit, { intervalMs: 1000, burst: 0 });
    assert.deepEqual(load('rate_limit:\n  interval: 250000000\n  burst: 5\n').config.rateLimit, { intervalMs: 250, burst: 5 });
  });
});

describe('what a runtime cannot do is refused with the reason', () => {
  test('rustls (Deno): no cipher list, no curve list, no TLS 1.0 or 1.1', () => {
    const rustls = { ...ALL, cipherSuites: false, curvePreferences: false, legacyVersions: false };
    assert.throws(() => load(`${TLS}  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n`, rustls), /cipher_suites is not supported on .*rustls/);
    assert.throws(() => load(`${TLS}  curve_preferences:\n  - X25519\n`, rustls), /curve_preferences is not supported on .*rustls/);
    assert.throws(() => load(`${TLS}  min_version: TLS11\n`, rustls), /min_version TLS11 is not supported on .*TLS12 and TLS13 only/);
    assert.equal(load(`${TLS}  min_version: TLS13\n`, rustls).config.tls?.minVersion, 'TLS13');
  });

  test('no peer certificate (Bun): no SAN check, no policy that needs to see the certificate', () => {
    const blind = { ...ALL, peerCertificate: false };
    assert.throws(
      () => load(`${TLS}  client_auth_type: "RequireAndVerifyClientCert"\n  client_allowed_sans: ["a"]\n`, blind),
      /client_allowed_sans is not supported/,
    );
    assert.throws(() => load(IF_GIVEN, blind), /client_auth_type VerifyClientCertIfGiven is not supported .*use RequireAndVerifyClientCert/);
    assert.throws(() => load(`${TLS}  client_auth_type: "RequireAnyClientCert"\n`, blind), /RequireAnyClientCert is not supported/);
    assert.equal(load(`${TLS}  client_auth_type: "RequireAndVerifyClientCert"\n`, blind).config.tls?.clientAuthType, 'RequireAndVerifyClientCert');
    assert.equal(load(`${TLS}  client_auth_type: "RequestClientCert"\n`, blind).config.tls?.clientAuthType, 'RequestClientCert');
  });
});
