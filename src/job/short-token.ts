// GitLab Runner's short form of a runner token (helpers/shorten_token.go): in
// build paths, container names and labels, never the whole secret.

/** GitLab Runner's short token: the runner token without its known prefix, its first 9 characters. */
export function shortToken(token: string | undefined): string {
  if (token === undefined || token === '') return '';
  let rest = token.replace(/^glrt-(t[123]_)?|^t[123]_|^glrtr-/, '');
  rest = rest.replace(/^glcbt-/, '');
  rest = rest.replace(/^GR[0-9A-Fa-f]{7}/, '');
  return rest.slice(0, 9);
}
