// The names the exporter toolkit accepts for TLS versions, cipher suites and
// curves (Go's crypto/tls names), with what OpenSSL-based runtimes call them.
// Only the suites Go's tls.CipherSuites() lists are accepted, as the toolkit
// does; Go's "insecure" suites (RC4, 3DES, CBC with SHA-256) are refused there
// and here.

export type TlsVersionName = 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13';

/** Go's version names in the order of the versions, with node:tls's names. */
export const TLS_VERSIONS: Readonly<Record<TlsVersionName, { readonly rank: number; readonly node: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' }>> = {
  TLS10: { rank: 0, node: 'TLSv1' },
  TLS11: { rank: 1, node: 'TLSv1.1' },
  TLS12: { rank: 2, node: 'TLSv1.2' },
  TLS13: { rank: 3, node: 'TLSv1.3' },
};

export interface CipherSuite {
  /** OpenSSL's name; undefined for TLS 1.3 suites, which Go (and so the toolkit) always enables and never configures. */
  readonly openssl: string | undefined;
}

/** Go's tls.CipherSuites(), by Go name. */
export const CIPHER_SUITES: Readonly<Record<string, CipherSuite>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: { openssl: 'AES128-SHA' },
  TLS_RSA_WITH_AES_256_CBC_SHA: { openssl: 'AES256-SHA' },
  TLS_RSA_WITH_AES_128_GCM_SHA256: { openssl: 'AES128-GCM-SHA256' },
  TLS_RSA_WITH_AES_256_GCM_SHA384: { openssl: 'AES256-GCM-SHA384' },
  TLS_AES_128_GCM_SHA256: { openssl: undefined },
  TLS_AES_256_GCM_SHA384: { openssl: undefined },
  TLS_CHACHA20_POLY1305_SHA256: { openssl: undefined },
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: { openssl: 'ECDHE-ECDSA-AES128-SHA' },
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: { openssl: 'ECDHE-ECDSA-AES256-SHA' },
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: { openssl: 'ECDHE-RSA-AES128-SHA' },
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: { openssl: 'ECDHE-RSA-AES256-SHA' },
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: { openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: { openssl: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: { openssl: 'ECDHE-RSA-AES128-GCM-SHA256' },
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: { openssl: 'ECDHE-RSA-AES256-GCM-SHA384' },
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: { openssl: 'ECDHE-RSA-CHACHA20-POLY1305' },
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: { openssl: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
};

/**
 * The suites Go's HTTP/2 server insists on when cipher_suites is set and TLS
 * 1.2 is allowed (RFC 7540 section 9.2.2); the toolkit refuses a list without
 * one while http2 is on.
 */
export const HTTP2_REQUIRED_SUITES = ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] as const;

/** The toolkit's curve names, with OpenSSL's. */
export const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
};

/** The toolkit's client_auth_type values, with the Go policy each means (RequireClientCert is its old name for RequireAnyClientCert). */
export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';

export const CLIENT_AUTH_TYPES: Readonly<Record<string, ClientAuthType>> = {
  '': 'NoClientCert',
  NoClientCert: 'NoClientCert',
  RequestClientCert: 'RequestClientCert',
  RequireAnyClientCert: 'RequireAnyClientCert',
  RequireClientCert: 'RequireAnyClientCert',
  VerifyClientCertIfGiven: 'VerifyClientCertIfGiven',
  RequireAndVerifyClientCert: 'RequireAndVerifyClientCert',
};
