// How a configuration or job-file value reads in a one-line error message.

/** Longest string shown in full in an error message; longer ones are cut. */
const MAX_SHOWN = 80;

/**
 * `text` as a JSON string literal that stays on one line wherever it is shown:
 * JSON escapes newlines and control characters but leaves U+0085, U+2028 and
 * U+2029, which terminals and log viewers may break a line at.
 */
export function quoted(text: string): string {
  return JSON.stringify(text).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `message` on one line: the line breaks of any kind it holds, escaped as quoted() escapes them. */
export function oneLine(message: string): string {
  return message.replace(/[\n\r\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A value as an error message shows it, on one line: "the string \"10 min\"",
 * "integer 5", "a table". Long strings are cut so a message stays readable.
 */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return `the date ${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()}`;
  if (typeof value === 'object' && value !== null) return 'a table';
  if (typeof value === 'string') {
    const chars = [...value];
    return chars.length <= MAX_SHOWN
      ? `the string ${quoted(value)}`
      : `the string ${quoted(chars.slice(0, MAX_SHOWN).join(''))}... (${chars.length} characters)`;
  }
  if (typeof value === 'number') return Number.isInteger(value) ? `integer ${value}` : `float ${value}`;
  if (typeof value === 'bigint') return `integer ${value}`;
  return `${typeof value} ${String(value)}`;
}
