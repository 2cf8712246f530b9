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
