// Quoting for stage scripts. bash gets ANSI-C quoting ($'...') the way GitLab
// Runner's bash writer quotes (so `$HOME` in a value stays `$HOME`, control
// characters and non-ASCII bytes are escaped byte by byte); sh (dash) has no
// $'...', so it gets POSIX single quotes, which need no escaping inside but
// for the quote itself.
import { Buffer } from 'node:buffer';
import type { ShellKind } from '../../job/executor.ts';

const LITERAL = new Set([...',-./@_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].map((c) => c.charCodeAt(0)));
/** Printable ASCII that bash takes literally inside $'...' but that forces quoting. */
const QUOTED = new Set([...' !"#$%&()*+:;<=>?[]^`{|}~'].map((c) => c.charCodeAt(0)));
const ESCAPES: Readonly<Record<number, string>> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };

/** `text` as one bash word: bare when it is all [A-Za-z0-9,-./@_], else $'...'. */
export function ansiCQuote(text: string): string {
  if (text === '') return "''";
  let quoted = '';
  let needsQuotes = false;
  for (const byte of Buffer.from(text, 'utf8')) {
    if (LITERAL.has(byte)) {
      quoted += String.fromCharCode(byte);
    } else if (QUOTED.has(byte)) {
      quoted += String.fromCharCode(byte);
      needsQuotes = true;
    } else {
      quoted += ESCAPES[byte] ?? `\\x${byte.toString(16).padStart(2, '0')}`;
      needsQuotes = true;
    }
  }
  return needsQuotes ? `$'${quoted}'` : quoted;
}

/** `text` as one POSIX shell word: bare when it is all [A-Za-z0-9,-./@_], else '...'. */
export function posixQuote(text: string): string {
  if (text === '') return "''";
  if ([...Buffer.from(text, 'utf8')].every((byte) => LITERAL.has(byte))) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

export function quoteFor(shell: ShellKind): (text: string) => string {
  return shell === 'bash' ? ansiCQuote : posixQuote;
}

/** `text` in double quotes, for arguments whose $VARIABLES the shell must expand (paths built from variables). */
export function doubleQuote(text: string): string {
  return `"${text}"`;
}
