// The few pieces of Go's standard library whose exact results the cache's
// keys, paths and log lines depend on: path.Clean, unicode.IsSpace and the
// quoting of fmt's %q. JavaScript's look-alikes differ at the edges
// (path.posix.normalize keeps a trailing slash, /\s/ takes U+FEFF as space,
// JSON.stringify quotes control characters differently), and those edges
// are what decides a cache key's directory and its warning's wording.

/** Go's path.Clean: the shortest equivalent slash path, `.` for an empty one. */
export function goPathClean(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(segment);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's path.Join: the non-empty elements joined by `/` and cleaned; `` when all are empty. */
export function goPathJoin(...elements: readonly string[]): string {
  const parts = elements.filter((element) => element !== '');
  return parts.length === 0 ? '' : goPathClean(parts.join('/'));
}

/** Go's unicode.IsSpace: Latin-1's spaces (\t \n \v \f \r, space, U+0085, U+00A0) and Unicode's White_Space above them. */
export function goIsSpace(char: string): boolean {
  const code = char.codePointAt(0) ?? -1;
  if (code <= 0xff) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0x85 || code === 0xa0;
  // Unicode's White_Space property above Latin-1; U+FEFF (which /\s/ takes) is not one.
  return code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f ||
    code === 0x3000;
}

/** Go's strings.TrimRightFunc(text, unicode.IsSpace). */
export function goTrimRightSpace(text: string): string {
  const chars = [...text];
  let end = chars.length;
  while (end > 0 && goIsSpace(chars[end - 1]!)) end--;
  return chars.slice(0, end).join('');
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** Go's strconv.IsPrint, near enough: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's %q of a string (strconv.Quote): what GitLab Runner's warnings show a cache key as. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const escape = ESCAPES[char];
    if (escape !== undefined) {
      out += escape;
      continue;
    }
    const code = char.codePointAt(0)!;
    // A lone surrogate cannot come from Go's UTF-8 strings; JSON decoding would have made it U+FFFD.
    if (code >= 0xd800 && code <= 0xdfff) out += '\ufffd';
    else if (PRINTABLE.test(char)) out += char;
    else if (code < 0x80) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}
