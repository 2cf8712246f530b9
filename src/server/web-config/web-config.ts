// The exporter toolkit's web configuration (Prometheus' --web.config.file),
// as the runner's server uses it: TLS, client certificates, basic auth,
// response headers and a rate limit. Parsed by parse-web-config.ts, with the
// certificate files read by load-web-config.ts.
import type { ClientAuthType, TlsVersionName } from './go-tls-names.ts';

export interface TlsServerConfig {
  /** PEM given inline (`cert`, `key`, `client_ca`); '' when not. */
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string;
  /** Files, resolved against the web config file's directory; '' when not given. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
  readonly clientAuthType: ClientAuthType;
  /** The SANs a client certificate must have one of; undefined when the key is absent (no check). */
  readonly clientAllowedSans: readonly string[] | undefined;
  readonly minVersion: TlsVersionName;
  readonly maxVersion: TlsVersionName;
  /** Go names; empty: the runtime's defaults. */
  readonly cipherSuites: readonly string[];
  readonly preferServerCipherSuites: boolean;
  /** Toolkit names; empty: the runtime's defaults. */
  readonly curvePreferences: readonly string[];
}

/** tls_server_config as written: the client policy by name, not yet checked. */
export type TlsFields = Omit<TlsServerConfig, 'clientAuthType'> & { readonly clientAuthName: string };

export interface RateLimit {
  /** Time for one token to come back. */
  readonly intervalMs: number;
  /** Requests allowed at once (Go's rate.Limiter burst; 0 allows none). */
  readonly burst: number;
}

export interface WebConfig {
  /** undefined: plain HTTP (no TLS key given at all, as the toolkit's IsEnabled()). */
  readonly tls: TlsServerConfig | undefined;
  readonly http2: boolean;
  /** Extra response headers (only the toolkit's five). */
  readonly headers: Readonly<Record<string, string>>;
  /** User name to bcrypt hash; empty: no basic auth. */
  readonly users: ReadonlyMap<string, string>;
  /** undefined: no rate limit (interval 0, the default). */
  readonly rateLimit: RateLimit | undefined;
}

/** A web config file as written, before the files it names are read. */
export type ParsedWebConfig = Omit<WebConfig, 'tls'> & { readonly tls: TlsFields | undefined };

/** No web config file: plain HTTP, no authentication. */
export const PLAIN_HTTP: WebConfig = { tls: undefined, http2: true, headers: {}, users: new Map(), rateLimit: undefined };

export class WebConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WebConfigError';
  }
}
