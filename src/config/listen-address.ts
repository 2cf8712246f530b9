// Parses the metrics server address with GitLab Runner's semantics:
// Go's net.SplitHostPort, default port 9252 when the port is missing,
// numeric or symbolic (service name) ports, IPv6 hosts in brackets.
import { readFileSync } from 'node:fs';
import { isIP, isIPv6 } from 'node:net';

export const DEFAULT_METRICS_PORT = 9252;

export interface ListenAddress {
  /** Empty means every interface. IPv6 literals are stored without brackets. */
  readonly host: string;
  /** 0 asks the operating system for a free port. */
  readonly port: number;
}

export class ListenAddressError extends Error {
  constructor(value: string, reason: string) {
    super(
      `invalid metrics server address ${JSON.stringify(value)}: ${reason} ` +
        '(expected [HOST][:PORT], for example 127.0.0.1:9252, :9252, localhost or [::1]:9252)',
    );
    this.name = 'ListenAddressError';
  }
}

// Go's net package falls back to this table when /etc/services is missing.
const FALLBACK_SERVICES: Readonly<Record<string, number>> = {
  domain: 53,
  ftp: 21,
  ftps: 990,
  gopher: 70,
  http: 80,
  https: 443,
  imap2: 143,
  imap3: 220,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  smtp: 25,
  submissions: 465,
  ssh: 22,
  telnet: 23,
};

let servicesCache: Map<string, number> | undefined;

/** TCP service names from /etc/services ("name port/proto aliases... # comment"). */
function tcpServices(): Map<string, number> {
  if (servicesCache) return servicesCache;
  const services = new Map<string, number>(Object.entries(FALLBACK_SERVICES));
  let text = '';
  try {
    text = readFileSync('/etc/services', 'utf8');
  } catch {
    // No services database: the fallback table is what Go uses too.
  }
  for (const rawLine of text.split('\n')) {
    const fields = rawLine.replace(/#.*/, '').trim().split(/\s+/);
    const [name, portProto, ...aliases] = fields;
    const match = portProto?.match(/^(\d+)\/tcp$/);
    if (!name || !match?.[1]) continue;
    const port = Number(match[1]);
    for (const n of [name, ...aliases]) if (!services.has(n)) services.set(n, port);
  }
  servicesCache = services;
  return services;
}

function parsePort(value: string, port: string): number {
  if (port === '') throw new ListenAddressError(value, 'empty port');
  if (/^\d+$/.test(port)) {
    const n = Number(port);
    if (n > 65535) throw new ListenAddressError(value, `port ${port} is out of range 0-65535`);
    return n;
  }
  const service = tcpServices().get(port.toLowerCase());
  if (service === undefined) throw new ListenAddressError(value, `unknown port or service name ${JSON.stringify(port)}`);
  return service;
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function checkHost(value: string, host: string, bracketed: boolean): string {
  if (bracketed) {
    if (!isIPv6(host.replace(/%[\w.-]+$/, ''))) throw new ListenAddressError(value, `${JSON.stringify(host)} in brackets is not an IPv6 address`);
    return host;
  }
  if (host === '' || isIP(host) === 4 || HOSTNAME.test(host)) return host;
  throw new ListenAddressError(value, `${JSON.stringify(host)} is not a host name or IP address`);
}

/** Splits HOST:PORT as Go's net.SplitHostPort does; `port` is undefined when it is missing. */
function splitHostPort(value: string): { host: string; port: string | undefined; bracketed: boolean } {
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) throw new ListenAddressError(value, "missing ']' after IPv6 address");
    const host = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest === '') return { host, port: undefined, bracketed: true };
    if (!rest.startsWith(':')) throw new ListenAddressError(value, `unexpected ${JSON.stringify(rest)} after ']'`);
    if (rest.indexOf(':', 1) >= 0) throw new ListenAddressError(value, 'too many colons');
    return { host, port: rest.slice(1), bracketed: true };
  }
  if (value.includes(']')) throw new ListenAddressError(value, "unexpected ']' without '['");
  const colons = value.split(':').length - 1;
  if (colons === 0) return { host: value, port: undefined, bracketed: false };
  if (colons > 1) throw new ListenAddressError(value, 'too many colons (put an IPv6 address in brackets: [::1]:9252)');
  const at = value.indexOf(':');
  return { host: value.slice(0, at), port: value.slice(at + 1), bracketed: false };
}

/**
 * Parses a metrics server address. Returns undefined for an empty value:
 * the server is disabled, as in GitLab Runner.
 */
export function parseListenAddress(input: string): ListenAddress | undefined {
  const value = input.trim();
  if (value === '') return undefined;
  if (/[\s/?#@]/.test(value)) throw new ListenAddressError(input, 'contains a space, scheme or path');
  const { host, port, bracketed } = splitHostPort(value);
  return {
    host: checkHost(input, host, bracketed),
    port: port === undefined ? DEFAULT_METRICS_PORT : parsePort(input, port),
  };
}

/** HOST:PORT for logs and URLs, with IPv6 hosts in brackets. */
export function formatListenAddress(address: ListenAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
