// The web config's TLS settings as node:https options, and the checks of a
// client certificate that the handshake itself cannot make (a certificate
// required but not verified, verified only if given, allowed SANs): those
// run once the handshake is done, and close the connection before it is
// read, as Go's VerifyPeerCertificate refuses it.
import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { CIPHER_SUITES, CURVES, TLS_VERSIONS } from './go-tls-names.ts';
import type { TlsMaterial } from './load-web-config.ts';
import type { TlsServerConfig } from './web-config.ts';

/** TLS as the server runs it: the settings and the PEM texts they named. */
export interface ServerTls {
  readonly config: TlsServerConfig;
  readonly material: TlsMaterial;
}

/** A TLS handshake must end within this time (node's default is 120 s, which lets idle handshakes pile up). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** What setSecureContext can change on a listening server: everything but the client policy. */
export function secureContextOptions(tls: ServerTls): SecureContextOptions {
  const { config, material } = tls;
  const ciphers = config.cipherSuites.map((name) => CIPHER_SUITES[name]?.openssl).filter((name) => name !== undefined);
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    minVersion: TLS_VERSIONS[config.minVersion].node,
    maxVersion: TLS_VERSIONS[config.maxVersion].node,
    // Only TLS 1.3 names listed: Go then keeps its TLS 1.2 defaults too, and so does an unset `ciphers`.
    ...(ciphers.length > 0 ? { ciphers: ciphers.join(':') } : {}),
    honorCipherOrder: config.preferServerCipherSuites,
    ...(config.curvePreferences.length > 0 ? { ecdhCurve: config.curvePreferences.map((name) => CURVES[name]).join(':') } : {}),
  };
}

/** The client policy, which only a new server can change. */
export function clientPolicyOptions(config: TlsServerConfig): { requestCert: boolean; rejectUnauthorized: boolean } {
  return {
    requestCert: config.clientAuthType !== 'NoClientCert',
    // Only this policy lets the handshake itself refuse; the others are checked after it (clientCertificateRefusal).
    rejectUnauthorized: config.clientAuthType === 'RequireAndVerifyClientCert',
  };
}

/** The values of a certificate's SANs, as Go lists them: DNS names, e-mail addresses, IP addresses, URIs. */
export function subjectAltNames(certificate: X509Certificate): string[] {
  const text = certificate.subjectAltName;
  if (text === undefined) return [];
  const values: string[] = [];
  // "DNS:a, URI:spiffe://x, IP Address:127.0.0.1, email:a@b"; a value with a comma in it is quoted.
  for (const match of text.matchAll(/(DNS|URI|IP Address|email):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const raw = match[2]!;
    values.push(raw.startsWith('"') ? JSON.parse(raw) as string : raw);
  }
  return values;
}

/** Why this connection's client certificate is refused; undefined when it is not. */
export function clientCertificateRefusal(socket: TLSSocket, config: TlsServerConfig): string | undefined {
  const policy = config.clientAuthType;
  const needsLook = policy === 'RequireAnyClientCert' || policy === 'VerifyClientCertIfGiven' || config.clientAllowedSans !== undefined;
  if (!needsLook) return undefined;
  const certificate = socket.getPeerX509Certificate?.();
  if (certificate === undefined) {
    if (policy === 'RequireAnyClientCert') return 'no client certificate';
    if (config.clientAllowedSans !== undefined) return 'no client certificate to find an allowed SAN in';
    return undefined;
  }
  if (policy === 'VerifyClientCertIfGiven' && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
  if (config.clientAllowedSans !== undefined) {
    const sans = subjectAltNames(certificate);
    if (!sans.some((san) => config.clientAllowedSans!.includes(san))) return `could not find allowed SANs in client cert, found: [${sans.join(' ')}]`;
  }
  return undefined;
}
