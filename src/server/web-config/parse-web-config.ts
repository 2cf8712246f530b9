// Parses a web configuration file as the exporter toolkit does (Go's
// yaml.UnmarshalStrict into its Config, then its checks): YAML 1.1 scalars,
// every key known, no key twice, names of versions, ciphers and curves as Go
// spells them, only the five headers it allows. Errors read like the
// toolkit's ("yaml: line 2: field cert_filse not found in tls_server_config",
// "unknown cipher: X") on one line, naming the key. The files the config
// names are not read here (load-web-config.ts).
import { isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { quoted } from '../../config/describe-value.ts';
import { parseGoDuration } from '../../system/go-duration.ts';
import { bcryptHashProblem } from './bcrypt-hash.ts';
import { CIPHER_SUITES, CURVES, TLS_VERSIONS, type TlsVersionName } from './go-tls-names.ts';
import { type ParsedWebConfig, type RateLimit, type TlsFields, WebConfigError } from './web-config.ts';

/** The headers the toolkit lets a config set, with the values it allows (none listed: any). */
const EXTRA_HTTP_HEADERS: Readonly<Record<string, readonly string[]>> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'];
const TLS_KEYS = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_auth_type',
  'client_ca_file',
  'cipher_suites',
  'curve_preferences',
  'min_version',
  'max_version',
  'prefer_server_cipher_suites',
  'client_allowed_sans',
];
const HTTP_KEYS = ['http2', 'headers'];
const RATE_LIMIT_KEYS = ['interval', 'burst'];

/** Reads YAML nodes into values, with errors that name the line and the key. */
class Reader {
  constructor(private readonly lines: LineCounter) {}

  fail(node: Node | null | undefined, message: string): never {
    const at = node?.range ? `line ${this.lines.linePos(node.range[0]).line}: ` : '';
    throw new WebConfigError(`yaml: ${at}${message}`);
  }

  /** A mapping's entries, each key known and given once; null (an empty value) is an empty mapping. */
  mapping(node: Node | null | undefined, where: string, known: readonly string[] | undefined): Map<string, Node | null> {
    const entries = new Map<string, Node | null>();
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return entries;
    if (!isMap(node)) this.fail(node, `${where}: expected a mapping, got ${this.kind(node)}`);
    for (const pair of (node as YAMLMap<Node, Node | null>).items) {
      const key = pair.key;
      const name = isScalar(key) ? String(key.value) : this.fail(key, `${where}: keys must be strings`);
      if (known !== undefined && !known.includes(name)) this.fail(key, `field ${name} not found in ${where}`);
      entries.set(name, pair.value ?? null);
    }
    return entries;
  }

  string(node: Node | null | undefined, where: string): string {
    if (node === null || node === undefined) return '';
    if (!isScalar(node)) this.fail(node, `${where}: expected a string, got ${this.kind(node)}`);
    if (node.value === null) return '';
    // A number or a boolean where a string is due is its text, as Go's yaml decodes it.
    return typeof node.value === 'string' ? node.value : (node.source ?? String(node.value));
  }

  boolean(node: Node | null | undefined, where: string, fallback: boolean): boolean {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return fallback;
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node, `${where}: expected true or false, got ${this.shown(node)}`);
    return node.value as boolean;
  }

  integer(node: Node | null | undefined, where: string): number {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return 0;
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isSafeInteger(node.value)) {
      this.fail(node, `${where}: expected an integer, got ${this.shown(node)}`);
    }
    return node.value as number;
  }

  strings(node: Node | null | undefined, where: string): string[] | undefined {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return undefined;
    if (!isSeq(node)) this.fail(node, `${where}: expected a list, got ${this.kind(node)}`);
    return node.items.map((item, index) => this.string(item as Node, `${where}[${index}]`));
  }

  private kind(node: Node): string {
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    return this.shown(node);
  }

  private shown(node: Node): string {
    if (!isScalar(node)) return this.kind(node);
    return typeof node.value === 'string' ? `the string ${quoted(node.value)}` : `${typeof node.value} ${node.source ?? String(node.value)}`;
  }
}

function tlsVersion(reader: Reader, node: Node | null | undefined, key: string, fallback: TlsVersionName): TlsVersionName {
  if (node === null || node === undefined) return fallback;
  const name = reader.string(node, `tls_server_config.${key}`);
  if (!Object.hasOwn(TLS_VERSIONS, name)) reader.fail(node, `${key}: unknown TLS version: ${name}`);
  return name as TlsVersionName;
}

function names(reader: Reader, node: Node | null | undefined, key: string, known: Readonly<Record<string, unknown>>, what: string): string[] {
  const list = reader.strings(node, `tls_server_config.${key}`) ?? [];
  for (const name of list) if (!Object.hasOwn(known, name)) reader.fail(node, `${key}: unknown ${what}: ${name}`);
  return list;
}

/** A path from the file, against the file's directory (the toolkit's SetDirectory). */
function inDirectory(dir: string, path: string): string {
  return path === '' || isAbsolute(path) ? path : resolve(dir, path);
}

/** The tls_server_config table as written; undefined when it gives no certificate, key, CA or policy (the toolkit's IsEnabled()). */
function tlsFields(reader: Reader, node: Node | null | undefined, dir: string): TlsFields | undefined {
  const entries = reader.mapping(node, 'tls_server_config', TLS_KEYS);
  const text = (key: string): string => reader.string(entries.get(key), `tls_server_config.${key}`);
  const fields: TlsFields = {
    cert: text('cert'),
    key: text('key'),
    clientCa: text('client_ca'),
    certFile: inDirectory(dir, text('cert_file')),
    keyFile: inDirectory(dir, text('key_file')),
    clientCaFile: inDirectory(dir, text('client_ca_file')),
    clientAuthName: text('client_auth_type'),
    clientAllowedSans: reader.strings(entries.get('client_allowed_sans'), 'tls_server_config.client_allowed_sans'),
    minVersion: tlsVersion(reader, entries.get('min_version'), 'min_version', 'TLS12'),
    maxVersion: tlsVersion(reader, entries.get('max_version'), 'max_version', 'TLS13'),
    cipherSuites: names(reader, entries.get('cipher_suites'), 'cipher_suites', CIPHER_SUITES, 'cipher'),
    preferServerCipherSuites: reader.boolean(entries.get('prefer_server_cipher_suites'), 'tls_server_config.prefer_server_cipher_suites', true),
    curvePreferences: names(reader, entries.get('curve_preferences'), 'curve_preferences', CURVES, 'curve'),
  };
  const given = [fields.cert, fields.key, fields.clientCa, fields.certFile, fields.keyFile, fields.clientCaFile, fields.clientAuthName];
  return given.some((v) => v !== '') ? fields : undefined;
}

function headers(reader: Reader, node: Node | null | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of reader.mapping(node, 'http_server_config.headers', undefined)) {
    const allowed = Object.hasOwn(EXTRA_HTTP_HEADERS, name) ? EXTRA_HTTP_HEADERS[name]! : undefined;
    if (allowed === undefined) throw new WebConfigError(`HTTP header ${quoted(name)} can not be configured`);
    const text = reader.string(value, `http_server_config.headers.${name}`);
    if (allowed.length > 0 && !allowed.includes(text)) {
      throw new WebConfigError(`invalid value for ${name}. Expected one of: [${allowed.map(quoted).join(' ')}], but got: ${quoted(text)}`);
    }
    // The toolkit sets a header given blank to the empty string; leaving it out says the same and sends less.
    if (text !== '') result[name] = text;
  }
  return result;
}

function users(reader: Reader, node: Node | null | undefined): Map<string, string> {
  const result = new Map<string, string>();
  for (const [name, value] of reader.mapping(node, 'basic_auth_users', undefined)) {
    const hash = reader.string(value, `basic_auth_users.${name}`);
    const problem = bcryptHashProblem(hash);
    // The hash is a secret: the message names the user, never the value.
    if (problem !== undefined) throw new WebConfigError(`basic_auth_users: user ${quoted(name)}: ${problem}`);
    result.set(name, hash);
  }
  return result;
}

function rateLimit(reader: Reader, node: Node | null | undefined): RateLimit | undefined {
  const entries = reader.mapping(node, 'rate_limit', RATE_LIMIT_KEYS);
  const intervalNode = entries.get('interval');
  let intervalMs = 0;
  if (intervalNode !== undefined && intervalNode !== null && isScalar(intervalNode) && typeof intervalNode.value === 'number') {
    // A bare number is nanoseconds, as Go's yaml decodes a time.Duration.
    intervalMs = reader.integer(intervalNode, 'rate_limit.interval') / 1e6;
  } else if (intervalNode !== undefined && intervalNode !== null) {
    const text = reader.string(intervalNode, 'rate_limit.interval');
    const parsed = parseGoDuration(text);
    if (parsed === undefined) reader.fail(intervalNode, `rate_limit.interval: time: invalid duration ${quoted(text)}`);
    intervalMs = parsed;
  }
  const burst = reader.integer(entries.get('burst'), 'rate_limit.burst');
  if (intervalMs < 0) reader.fail(intervalNode, 'rate_limit.interval: must not be negative');
  if (burst < 0) reader.fail(entries.get('burst'), 'rate_limit.burst: must not be negative');
  return intervalMs === 0 ? undefined : { intervalMs, burst };
}

/**
 * The web config in `text`, read from a file in `dir`, as written; throws
 * WebConfigError. Its TLS settings are checked when the files they name are
 * read (load-web-config.ts), as the toolkit checks them.
 */
export function parseWebConfig(text: string, dir: string): ParsedWebConfig {
  const lines = new LineCounter();
  const document = parseDocument(text, { version: '1.1', uniqueKeys: true, lineCounter: lines, prettyErrors: false });
  const syntax = document.errors[0];
  if (syntax !== undefined) throw new WebConfigError(`yaml: line ${lines.linePos(syntax.pos[0]).line}: ${syntax.message.split('\n')[0]}`);
  const reader = new Reader(lines);
  const root = document.contents as Node | null;
  if (root !== null && !isMap(root) && !(isScalar(root) && root.value === null)) {
    reader.fail(root, `expected a mapping of ${TOP_KEYS.join(', ')}, got ${isSeq(root) ? 'a list' : 'a string'}`);
  }
  const top = reader.mapping(root, 'the web config', TOP_KEYS);
  const http = reader.mapping(top.get('http_server_config'), 'http_server_config', HTTP_KEYS);
  // The toolkit's order: the YAML and the names in it, then the users' hashes, then the TLS settings.
  const fields = tlsFields(reader, top.get('tls_server_config'), dir);
  const http2 = reader.boolean(http.get('http2'), 'http_server_config.http2', true);
  const extraHeaders = headers(reader, http.get('headers'));
  const limit = rateLimit(reader, top.get('rate_limit'));
  const hashes = users(reader, top.get('basic_auth_users'));
  return { tls: fields, http2, headers: extraHeaders, users: hashes, rateLimit: limit };
}
