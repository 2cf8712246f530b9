// Durations in configuration and job files: a whole number of seconds, or a
// string of hours, minutes and seconds such as "90s", "10m", "1h30m",
// "1h2m3s" (each unit at most once, in the order h, m, s, whole numbers only).
import { describeValue } from './describe-value.ts';
import { ConfigError } from './validate.ts';

/** The longest duration accepted: 7 days, far beyond any sane job and well within a timer's 2^31 ms range. */
export const MAX_DURATION_SECONDS = 7 * 24 * 3600;

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

const EXPECTED_FORMAT = 'a whole number of seconds or a duration such as "90s", "10m" or "1h30m" (units h, m, s, each at most once, in that order)';
const EXPECTED_RANGE = `a duration from 1 second to 7 days (${MAX_DURATION_SECONDS} seconds)`;

/**
 * Reads a duration and returns it in seconds, from 1 to MAX_DURATION_SECONDS.
 * `key` and `origin` (the file) name the value in the one-line ConfigError
 * thrown for anything else: `ORIGIN: KEY: expected ..., got ...`.
 */
export function parseDuration(value: unknown, key: string, origin: string): number {
  const fail = (expected: string): never => {
    throw new ConfigError(`${origin}: ${key}: expected ${expected}, got ${describeValue(value)}`);
  };
  let seconds: number;
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isInteger(value)) fail(EXPECTED_FORMAT);
    seconds = Number(value);
  } else if (typeof value === 'string') {
    const match = DURATION.exec(value);
    // The pattern also matches "": at least one unit must be there.
    if (match === null || value === '') return fail(EXPECTED_FORMAT);
    const [, h, m, s] = match;
    seconds = Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
  } else {
    return fail(EXPECTED_FORMAT);
  }
  if (!(seconds >= 1 && seconds <= MAX_DURATION_SECONDS)) fail(EXPECTED_RANGE);
  return seconds;
}
