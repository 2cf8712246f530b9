// Summaries and formatting for the startup bench's report. Runs are few and noisy, so every
// figure is shown as the median with the [min-max] range rather than a mean.

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

export const fmtMs = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(0) : 'n/a');
export const fmtMiB = (kib: number): string => (Number.isFinite(kib) ? (kib / 1024).toFixed(1) : 'n/a');

/** Milliseconds as `median [min-max]`. */
export const spread = (xs: number[]): string => xs.length === 0 ? 'n/a' : `${fmtMs(median(xs))} [${fmtMs(Math.min(...xs))}-${fmtMs(Math.max(...xs))}]`;

/** KiB figures as `median [min-max]` in MiB. */
export const spreadMiB = (kib: number[]): string =>
  kib.length === 0 ? 'n/a' : `${fmtMiB(median(kib))} [${fmtMiB(Math.min(...kib))}-${fmtMiB(Math.max(...kib))}]`;

/** Left-aligned columns two spaces apart; the last column is not padded, so lines carry no trailing blanks. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** The q-quantile (0 < q <= 1) by the nearest-rank method: the smallest value with at least q of them at or below it. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}
