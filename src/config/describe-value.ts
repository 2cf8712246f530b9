// How a configuration or job-file value reads in a one-line error message.

/** Longest string shown in full in an error message; longer ones are cut. */
const MAX_SHOWN = 80;

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
      ? `the string ${JSON.stringify(value)}`
      : `the string ${JSON.stringify(chars.slice(0, MAX_SHOWN).join(''))}... (${chars.length} characters)`;
  }
  if (typeof value === 'number') return Number.isInteger(value) ? `integer ${value}` : `float ${value}`;
  if (typeof value === 'bigint') return `integer ${value}`;
  return `${typeof value} ${String(value)}`;
}
