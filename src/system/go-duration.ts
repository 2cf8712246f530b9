// Go's time.Duration String() format ("1h2m3.5s", "250ms"), which GitLab
// Runner's /debug/jobs/list uses and its readers expect. Works on whole
// nanoseconds, as Go does, so rounding can never produce "60s" or "1000ms".

const NS_PER_US = 1_000;
const NS_PER_MS = 1_000_000;
const NS_PER_S = 1_000_000_000;

/** `whole` plus `fraction / unit` as a decimal, trailing zeros dropped. */
function decimal(whole: number, fraction: number, digits: number): string {
  if (fraction === 0) return String(whole);
  return `${whole}.${String(fraction).padStart(digits, '0').replace(/0+$/, '')}`;
}

export function formatGoDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds) || milliseconds <= 0) return '0s';
  const ns = Math.round(milliseconds * NS_PER_MS);
  if (ns === 0) return '0s';
  if (ns < NS_PER_US) return `${ns}ns`;
  if (ns < NS_PER_MS) return `${decimal(Math.floor(ns / NS_PER_US), ns % NS_PER_US, 3)}µs`;
  if (ns < NS_PER_S) return `${decimal(Math.floor(ns / NS_PER_MS), ns % NS_PER_MS, 6)}ms`;
  const totalSeconds = Math.floor(ns / NS_PER_S);
  const seconds = decimal(totalSeconds % 60, ns % NS_PER_S, 9) + 's';
  const minutes = Math.floor(totalSeconds / 60) % 60;
  const hours = Math.floor(totalSeconds / 3600);
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: NS_PER_US,
  'µs': NS_PER_US,
  'μs': NS_PER_US,
  ms: NS_PER_MS,
  s: NS_PER_S,
  m: 60 * NS_PER_S,
  h: 3600 * NS_PER_S,
};

/**
 * Go's time.ParseDuration, in milliseconds: a sign, then one or more decimal
 * numbers each with a unit ("300ms", "-1.5h", "2h45m"); "0" alone is zero.
 * undefined for anything else (a bare "60" included).
 */
export function parseGoDuration(text: string): number | undefined {
  const match = /^([+-]?)(.*)$/.exec(text)!;
  const sign = match[1] === '-' ? -1 : 1;
  const rest = match[2]!;
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let ns = 0;
  for (let at = 0; at < rest.length;) {
    const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/.exec(rest.slice(at));
    if (!part || (part[1] === '' && (part[2] ?? '') === '')) return undefined;
    const value = Number(`${part[1] || '0'}.${part[2] || '0'}`);
    ns += value * UNIT_NS[part[3]!]!;
    at += part[0].length;
  }
  return (sign * ns) / NS_PER_MS;
}
