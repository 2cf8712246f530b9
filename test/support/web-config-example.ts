// The shipped HTTPS examples, made usable in a test: deploy/web-config.yml
// with its files pointed at certificates the test made (and its commented
// options uncommented on request), and the commented HTTPS block of the
// `runner` job in deploy/prometheus/prometheus.yml uncommented, with the
// files it names made beside it. Each line a test uncomments must be in the
// shipped file as written, so an example that changes shape fails here
// rather than going unchecked.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/version.ts';
import type { PrivateCa } from './tls.ts';

export const WEB_CONFIG_EXAMPLE = join(packageRoot(), 'deploy', 'web-config.yml');
export const PROMETHEUS_CONFIG = join(packageRoot(), 'deploy', 'prometheus', 'prometheus.yml');

/** Where the example keeps the runner's certificate, key and client CA; the test puts its own there. */
const TLS_DIR = '/etc/runner/tls/';

/** The lines `pattern` matches, uncommented: `indent` and the pattern's group 1. Asserts there was at least one. */
function uncomment(text: string, pattern: RegExp, indent: string, what: string): string {
  const result = text.replace(pattern, (_line, rest: string) => `${indent}${rest}`);
  assert.notEqual(result, text, `the shipped file has ${what}, commented`);
  return result;
}

export interface WebConfigOptions {
  /** client_auth_type and client_ca_file uncommented. */
  readonly clientCertificates?: boolean;
  /** client_allowed_sans uncommented as well. */
  readonly allowedSans?: boolean;
  /** rate_limit uncommented. */
  readonly rateLimit?: boolean;
  /** Hashes that replace the shipped ones, by user. */
  readonly hashes?: Readonly<Record<string, string>>;
}

/**
 * deploy/web-config.yml, written to `dir`/web-config.yml with the runner's
 * certificate, key and client CA of `ca` in place of /etc/runner/tls/;
 * returns its path.
 */
export function exampleWebConfig(dir: string, ca: PrivateCa, options: WebConfigOptions = {}): string {
  let text = readFileSync(WEB_CONFIG_EXAMPLE, 'utf8');
  if (options.clientCertificates || options.allowedSans) {
    text = uncomment(text, /^ {2}# (client_(?:auth_type|ca_file): .*)$/gm, '  ', 'client_auth_type and client_ca_file');
  }
  if (options.allowedSans) text = uncomment(text, /^ {2}# (client_allowed_sans: .*)$/gm, '  ', 'client_allowed_sans');
  if (options.rateLimit) {
    text = uncomment(text, /^# (rate_limit:)$/gm, '', 'rate_limit');
    text = uncomment(text, /^# {3}((?:interval|burst): .*)$/gm, '  ', 'interval and burst');
  }
  for (const [user, hash] of Object.entries(options.hashes ?? {})) {
    const line = new RegExp(`^( {2}${user}: )\\$2y\\$10\\$\\S+$`, 'm');
    assert.match(text, line, `the shipped file has a user ${user}`);
    text = text.replace(line, (_line, key: string) => `${key}${hash}`);
  }
  const tls = join(dir, 'runner-tls');
  mkdirSync(tls, { recursive: true });
  copyFileSync(ca.server.certFile, join(tls, 'runner.pem'));
  copyFileSync(ca.server.keyFile, join(tls, 'runner.key'));
  copyFileSync(ca.caFile, join(tls, 'client-ca.pem'));
  text = text.replaceAll(TLS_DIR, `${tls}/`);
  // Every file the example names is one the test made: none left pointing at this machine's /etc.
  const active = text.split('\n').filter((line) => !/^\s*#/.test(line)).join('\n');
  assert.doesNotMatch(active, /\/etc\//, 'a path of the example that the test did not replace');
  const file = join(dir, 'web-config.yml');
  writeFileSync(file, text);
  return file;
}

export interface PrometheusHttpsOptions {
  /** cert_file and key_file uncommented as well (the runners ask for client certificates). */
  readonly clientCertificate?: boolean;
  /** Prometheus' client certificate, when clientCertificate is set. */
  readonly client?: { readonly certFile: string; readonly keyFile: string };
  /** The CA Prometheus is to trust. */
  readonly caFile: string;
  /** Written to the password file, with a newline after it as an editor would leave it. */
  readonly password: string;
}

/**
 * `config` (the text of deploy/prometheus/prometheus.yml) with the HTTPS
 * block of the `runner` job uncommented, and the files it names made in
 * `dir`, beside where the configuration is to be written.
 */
export function withHttpsScrape(config: string, dir: string, options: PrometheusHttpsOptions): string {
  let text = uncomment(config, /^ {4}# ((?:scheme|tls_config|basic_auth):.*)$/gm, '    ', 'scheme, tls_config and basic_auth');
  text = uncomment(text, /^ {4}# {3}((?:ca_file|username|password_file):.*)$/gm, '      ', 'ca_file, username and password_file');
  const files = join(dir, 'runner-tls');
  mkdirSync(files, { recursive: true });
  copyFileSync(options.caFile, join(files, 'ca.pem'));
  writeFileSync(join(files, 'password'), `${options.password}\n`, { mode: 0o600 });
  if (options.clientCertificate) {
    text = uncomment(text, /^ {4}# {3}# ((?:cert_file|key_file):.*)$/gm, '      ', 'cert_file and key_file');
    if (options.client !== undefined) {
      copyFileSync(options.client.certFile, join(files, 'prometheus.pem'));
      copyFileSync(options.client.keyFile, join(files, 'prometheus.key'));
    }
  }
  assert.match(text, /^ {4}scheme: https$/m);
  return text;
}
