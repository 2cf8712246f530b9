// Go's time.Duration String() format ("1h2m3.5s", "250ms"), which GitLab
// Runner's /debug/jobs/list uses and its readers expect.

function trimFraction(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, '');
}

export function formatGoDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds) || milliseconds <= 0) return '0s';
  if (milliseconds < 1) {
    const micros = milliseconds * 1000;
    return micros < 1 ? `${Math.round(micros * 1000)}ns` : `${trimFraction(micros, 3)}µs`;
  }
  if (milliseconds < 1000) return `${trimFraction(milliseconds, 6)}ms`;
  const totalSeconds = milliseconds / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds - hours * 3600) / 60);
  const seconds = trimFraction(totalSeconds - hours * 3600 - minutes * 60, 3);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
