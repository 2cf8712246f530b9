// A self-signed certificate for 127.0.0.1, or a private CA and what it signed,
// made with the openssl command line; and the exporter toolkit's web config
// (web_config_file) that serves them.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { runtime } from '../../src/runtime/runtime.ts';

export interface Certificate {
  /** Where the key and the certificate were written (PEM). */
  readonly keyFile: string;
  readonly certFile: string;
  readonly key: string;
  readonly cert: string;
}

/** Writes key.pem and cert.pem into `dir`: a one-day certificate for 127.0.0.1, its own CA. */
export function selfSignedCertificate(dir: string): Certificate {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', ...subject], {
    stdio: 'ignore',
  });
  return { keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A private CA with the certificates it signed: a server one for localhost and 127.0.0.1, and client ones. */
export interface PrivateCa {
  readonly dir: string;
  /** The CA's certificate (PEM file), to trust. */
  readonly caFile: string;
  readonly server: Certificate;
  /** A client certificate with these subject alternative names (`DNS:x`, `URI:y`, `email:z`), made on first use. */
  client(name: string, sans?: readonly string[]): Certificate;
  /** Another server certificate for localhost and 127.0.0.1 (a rotation's), named `name`. */
  serverAlso(name: string): Certificate;
}

function signed(dir: string, name: string, ca: { keyFile: string; certFile: string }, extensions: readonly string[]): Certificate {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions.join('\n') + '\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}

/** Makes a CA in `dir` and a server certificate signed by it; client certificates on demand. */
export function privateCa(dir: string): PrivateCa {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=runner test CA']);
  const ca = { keyFile: caKey, certFile: caFile };
  const serverExtensions = ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth'];
  const server = signed(dir, 'server', ca, serverExtensions);
  const clients = new Map<string, Certificate>();
  return {
    dir,
    caFile,
    server,
    client(name, sans = [`DNS:${name}`]) {
      let made = clients.get(name);
      if (made === undefined) {
        made = signed(dir, name, ca, [`subjectAltName=${sans.join(',')}`, 'extendedKeyUsage=clientAuth']);
        clients.set(name, made);
      }
      return made;
    },
    serverAlso: (name) => signed(dir, name, ca, serverExtensions),
  };
}

export interface WebConfigOptions {
  /** RequireAndVerifyClientCert against the CA (client_ca_file); default: no client certificates. */
  readonly clientCertificates?: boolean;
  /** basic_auth_users: user name to password, hashed here at bcrypt cost 5 (Go's minimum is 4), cheap for a test. */
  readonly users?: Readonly<Record<string, string>>;
}

/** Writes `name` in the CA's directory: a web config serving the CA's server certificate; returns its path. */
export function writeWebConfig(ca: PrivateCa, name: string, options: WebConfigOptions = {}): string {
  const lines = ['tls_server_config:', `  cert_file: ${JSON.stringify(ca.server.certFile)}`, `  key_file: ${JSON.stringify(ca.server.keyFile)}`];
  if (options.clientCertificates === true) lines.push('  client_auth_type: RequireAndVerifyClientCert', `  client_ca_file: ${JSON.stringify(ca.caFile)}`);
  const users = Object.entries(options.users ?? {});
  if (users.length > 0) lines.push('basic_auth_users:', ...users.map(([user, password]) => `  ${user}: ${JSON.stringify(bcrypt.hashSync(password, 5))}`));
  const file = join(ca.dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * What a Go client (Prometheus, pprof) reports when a runner on this runtime
 * refuses its handshake for want of a client certificate: TLS 1.3's
 * certificate_required alert. Deno's node:tls server closes the connection
 * without it now and then (about one refusal in six, a bare node:https server
 * as much as the runner; curl then says "Empty reply from server"), and Go
 * reports the reset or the end of the stream instead.
 */
export const GO_CLIENT_REFUSED_WITHOUT_CERTIFICATE: RegExp = runtime.name === 'deno'
  ? /remote error: tls: certificate required|read: connection reset by peer|": EOF$/m
  : /remote error: tls: certificate required/;
