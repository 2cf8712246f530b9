// The soak bench's trend of a series sampled over time: the least-squares slope, and the slopes
// of the window's first and second halves. Samples of a process's memory are autocorrelated (a
// garbage collection moves many samples at once), so a standard error from the residuals would
// claim more certainty than there is; two halves that agree are the rougher, honest check that a
// slope is a trend and not one step.

export interface Point {
  /** Minutes. */
  readonly t: number;
  readonly y: number;
}

export interface Trend {
  /** y per minute over the whole window (NaN with fewer than 2 points). */
  readonly slope: number;
  readonly firstHalf: number;
  readonly secondHalf: number;
}

/** The least-squares slope of y over t; NaN with fewer than two distinct times. */
export function slope(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const meanT = points.reduce((sum, p) => sum + p.t, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - meanT) * (p.y - meanY);
    den += (p.t - meanT) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** The slope of the whole window and of each half of it by time (a point at the middle goes to both). */
export function trend(points: readonly Point[]): Trend {
  if (points.length === 0) return { slope: NaN, firstHalf: NaN, secondHalf: NaN };
  const middle = (points[0]!.t + points[points.length - 1]!.t) / 2;
  return {
    slope: slope(points),
    firstHalf: slope(points.filter((p) => p.t <= middle)),
    secondHalf: slope(points.filter((p) => p.t >= middle)),
  };
}
