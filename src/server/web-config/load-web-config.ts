// Reads a web configuration file and the certificate, key and CA files it
// names, checks them in the exporter toolkit's order and with its messages,
// and refuses what this runtime's TLS cannot do (rather than serving
// without it). Everything the server then needs is in memory: a file that
// changes later is read again only on a reload (web-config-reloader.ts).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { quoted } from '../../config/describe-value.ts';
import { runtime, type TlsServerAbilities, tlsServerAbilities } from '../../runtime/runtime.ts';
import { CLIENT_AUTH_TYPES, HTTP2_REQUIRED_SUITES, TLS_VERSIONS } from './go-tls-names.ts';
import { parseWebConfig } from './parse-web-config.ts';
import { type TlsFields, type TlsServerConfig, type WebConfig, WebConfigError } from './web-config.ts';

/** The PEM texts the TLS server is made from. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** The client CAs; undefined: the runtime's default roots. */
  readonly ca: string | undefined;
}

export interface LoadedWebConfig {
  /** The web config file, absolute. */
  readonly path: string;
  readonly config: WebConfig;
  /** With TLS on: what the server presents and trusts. */
  readonly material: TlsMaterial | undefined;
  /** The files a change of which calls for a reload: the config file and those it names. */
  readonly files: readonly string[];
}

/** Go's wording of the errors a file read meets ("open x: no such file or directory"). */
const GO_ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
};

function readText(path: string, what: string | undefined): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = `open ${path}: ${GO_ERRNO_TEXT[code] ?? (error as Error).message}`;
    throw new WebConfigError(what === undefined ? reason : `failed to read ${what} (${path}): ${reason}`, { cause: error });
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** Go's tls.X509KeyPair checks: both PEM, the key the certificate's. */
function checkKeyPair(cert: string, key: string): void {
  const fail = (reason: string, cause?: unknown): never => {
    throw new WebConfigError(`failed to load X509KeyPair: ${reason}`, { cause });
  };
  if (!cert.includes('-----BEGIN')) fail('tls: failed to find any PEM data in certificate input');
  if (!key.includes('-----BEGIN')) fail('tls: failed to find any PEM data in key input');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    return fail(`tls: failed to parse certificate: ${firstLine(error)}`, error);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    return fail(`tls: failed to parse private key: ${firstLine(error)}`, error);
  }
  if (!certificate.checkPrivateKey(privateKey)) fail('tls: private key does not match public key');
}

function clientCas(text: string, where: string): string {
  try {
    new X509Certificate(text);
  } catch (error) {
    // Go would load an empty pool and then refuse every client; saying so now is kinder.
    throw new WebConfigError(`${where} holds no PEM certificate: ${firstLine(error)}`, { cause: error });
  }
  return text;
}

/** What this runtime cannot do of what the TLS settings ask, as one-line reasons. */
function unsupported(tls: TlsServerConfig, abilities: TlsServerAbilities): string | undefined {
  const name = runtime.name === 'deno' ? 'Deno' : runtime.name === 'bun' ? 'Bun' : 'Node.js';
  if (!abilities.cipherSuites && tls.cipherSuites.length > 0) {
    return `tls_server_config.cipher_suites is not supported on ${name}: its TLS (rustls) does not take a cipher list; remove the key to use its defaults`;
  }
  if (!abilities.curvePreferences && tls.curvePreferences.length > 0) {
    return `tls_server_config.curve_preferences is not supported on ${name}: its TLS (rustls) does not take a curve list; remove the key to use its defaults`;
  }
  if (!abilities.legacyVersions && TLS_VERSIONS[tls.minVersion].rank < TLS_VERSIONS.TLS12.rank) {
    return `tls_server_config.min_version ${tls.minVersion} is not supported on ${name}: its TLS (rustls) speaks TLS12 and TLS13 only`;
  }
  if (!abilities.peerCertificate) {
    if (tls.clientAllowedSans !== undefined) {
      return `tls_server_config.client_allowed_sans is not supported on ${name}: its TLS sockets do not show the client certificate`;
    }
    if (tls.clientAuthType === 'RequireAnyClientCert' || tls.clientAuthType === 'VerifyClientCertIfGiven') {
      return `tls_server_config.client_auth_type ${tls.clientAuthType} is not supported on ${name}: its TLS sockets cannot tell whether a client certificate was sent; use RequireAndVerifyClientCert`;
    }
  }
  return undefined;
}

/** The TLS settings checked, and their files read, in the toolkit's order. */
function loadTls(fields: TlsFields, http2: boolean): { tls: TlsServerConfig; material: TlsMaterial; files: string[] } {
  const { clientAuthName, ...settings } = fields;
  if (settings.certFile === '' && settings.cert === '') throw new WebConfigError('missing one of cert or cert_file');
  if (settings.keyFile === '' && settings.key === '') throw new WebConfigError('missing one of key or key_file');
  // As in the toolkit, a file wins over the same thing given inline.
  const cert = settings.certFile !== '' ? readText(settings.certFile, 'cert_file') : settings.cert;
  const key = settings.keyFile !== '' ? readText(settings.keyFile, 'key_file') : settings.key;
  checkKeyPair(cert, key);
  const caText = settings.clientCaFile !== '' ? readText(settings.clientCaFile, undefined) : settings.clientCa !== '' ? settings.clientCa : undefined;
  const clientAuthType = Object.hasOwn(CLIENT_AUTH_TYPES, clientAuthName) ? CLIENT_AUTH_TYPES[clientAuthName]! : undefined;
  if (clientAuthType === undefined) throw new WebConfigError(`invalid ClientAuth: ${quoted(clientAuthName)}`);
  if (caText !== undefined && clientAuthType === 'NoClientCert') throw new WebConfigError("client CA's have been configured without a Client Auth Policy");
  const ca = caText === undefined ? undefined : clientCas(caText, settings.clientCaFile !== '' ? `client_ca_file ${settings.clientCaFile}` : 'client_ca');
  // Go accepts this and then fails every handshake; refusing it at load says why.
  if (TLS_VERSIONS[settings.minVersion].rank > TLS_VERSIONS[settings.maxVersion].rank) {
    throw new WebConfigError(
      `no supported versions satisfy MinVersion and MaxVersion (min_version ${settings.minVersion} is above max_version ${settings.maxVersion})`,
    );
  }
  const tls12Allowed = TLS_VERSIONS[settings.minVersion].rank < TLS_VERSIONS.TLS13.rank;
  if (http2 && tls12Allowed && settings.cipherSuites.length > 0 && !HTTP2_REQUIRED_SUITES.some((suite) => settings.cipherSuites.includes(suite))) {
    throw new WebConfigError(
      `http2: TLSConfig.CipherSuites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher (need at least one of ${HTTP2_REQUIRED_SUITES.join(' or ')})`,
    );
  }
  const files = [settings.certFile, settings.keyFile, settings.clientCaFile].filter((file) => file !== '');
  return { tls: { ...settings, clientAuthType }, material: { cert, key, ca }, files };
}

/**
 * The web config in the file at `path` (relative to `cwd`), with its files
 * read; throws WebConfigError with a one-line message that names the file.
 */
export function loadWebConfig(path: string, cwd: string, abilities: TlsServerAbilities = tlsServerAbilities): LoadedWebConfig {
  const file = resolve(cwd, path);
  try {
    const parsed = parseWebConfig(readText(file, undefined), dirname(file));
    const loaded = parsed.tls === undefined ? undefined : loadTls(parsed.tls, parsed.http2);
    const problem = loaded === undefined ? undefined : unsupported(loaded.tls, abilities);
    if (problem !== undefined) throw new WebConfigError(problem);
    return { path: file, config: { ...parsed, tls: loaded?.tls }, material: loaded?.material, files: [file, ...(loaded?.files ?? [])] };
  } catch (error) {
    if (!(error instanceof WebConfigError)) throw error;
    throw new WebConfigError(`web config file ${quoted(file)}: ${error.message}`, { cause: error });
  }
}
