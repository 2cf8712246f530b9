// `artifacts.expire_in` of a local job file, read as GitLab reads it: GitLab
// parses the text with ChronicDuration (lib/gitlab/ci/build/duration_parser.rb),
// so "3600" (bare digits: seconds), "30 mins", "1 week", "7d",
// "1 day and 2 hours", "2.5 hours" and "never" are all valid. The subset
// accepted here: "never", bare digits, or a sequence of NUMBER UNIT with
// optional spaces, commas and "and" between them, case-insensitive. Units, as
// ChronicDuration spells them: s sec secs second seconds, m min mins minute
// minutes, h hr hrs hour hours, d day days, w wk wks week weeks, mo mon month
// months, y yr yrs year years. A month is 30 days and a year 365.25 days, as
// in ChronicDuration. Colon forms ("1:30") are not accepted.

const UNIT_SECONDS: Readonly<Record<string, number>> = (() => {
  const table: Record<string, number> = {};
  const add = (seconds: number, ...names: string[]): void => names.forEach((name) => (table[name] = seconds));
  add(1, 's', 'sec', 'secs', 'second', 'seconds');
  add(60, 'm', 'min', 'mins', 'minute', 'minutes');
  add(3600, 'h', 'hr', 'hrs', 'hour', 'hours');
  add(86_400, 'd', 'day', 'days');
  add(7 * 86_400, 'w', 'wk', 'wks', 'week', 'weeks');
  add(30 * 86_400, 'mo', 'mon', 'month', 'months');
  add(365.25 * 86_400, 'y', 'yr', 'yrs', 'year', 'years');
  return table;
})();

/** The instance default GitLab applies when a job gives no expire_in (Admin > CI/CD: 30 days). */
export const DEFAULT_EXPIRE_IN_SECONDS = 30 * 86_400;

/** What expire_in expects, for error messages. */
export const EXPIRE_IN_EXPECTED = 'a duration such as "30 mins", "1 week", "7d", "3600" (seconds) or "never"';

/**
 * The seconds an expire_in text stands for, 'never', or undefined when GitLab
 * would not accept it (or it is under one second).
 */
export function parseExpireIn(text: string): number | 'never' | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'never') return 'never';
  if (/^\d+$/.test(trimmed)) return Number(trimmed) >= 1 && Number.isSafeInteger(Number(trimmed)) ? Number(trimmed) : undefined;
  // "1 day and 2 hours", "1d, 2h", "1d2h": NUMBER UNIT parts, read left to right.
  const rest = trimmed.replace(/,/g, ' ').replace(/\band\b/g, ' ').trim();
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/y;
  let seconds = 0;
  let parts = 0;
  while (part.lastIndex < rest.length) {
    const match = part.exec(rest);
    if (!match || !Object.hasOwn(UNIT_SECONDS, match[2]!)) return undefined;
    seconds += Number(match[1]) * UNIT_SECONDS[match[2]!]!;
    parts++;
  }
  if (parts === 0) return undefined;
  seconds = Math.floor(seconds);
  return seconds >= 1 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** When an archive stored at `now` expires: a Date, or null for never. */
export function expiryOf(expireIn: string | undefined, now: Date): Date | null {
  const seconds = expireIn === undefined ? DEFAULT_EXPIRE_IN_SECONDS : parseExpireIn(expireIn);
  if (seconds === 'never') return null;
  const expiry = new Date(now.getTime() + (seconds ?? DEFAULT_EXPIRE_IN_SECONDS) * 1000);
  // Beyond what a Date can hold (about 275,000 years): as good as never.
  return Number.isNaN(expiry.getTime()) ? null : expiry;
}
