// proxy-from-env ships no type declarations; this is the one function used.
declare module 'proxy-from-env' {
  /** The proxy URL for `url` from HTTP_PROXY/HTTPS_PROXY/ALL_PROXY and NO_PROXY, or '' for a direct connection. */
  export function getProxyForUrl(url: string | URL, options?: { getEnv?: (name: string) => string }): string;
}
