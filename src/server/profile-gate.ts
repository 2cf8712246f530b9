// At most one expensive profile at a time, and at most half of the server's
// time spent on them: a heap profile (a synchronous snapshot on Bun, a forced
// collection with ?gc=1) holds the event loop that also answers /metrics. A
// request that finds the gate closed is refused with Retry-After instead of
// queued, as Go refuses a second CPU profile, so no number of profile
// requests can stall a scrape for more than one profile's time.

export type GateAnswer = { readonly open: true; release(): void } | { readonly open: false; readonly retryAfterSeconds: number };

export class ProfileGate {
  private busy = false;
  /** Until when (ms since the epoch) the gate stays closed after the latest profile. */
  private closedUntil = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Opens for one profile if none runs and the pause after the latest one has
   * passed. The pause lasts as long as that profile took: requests that queued
   * up behind a synchronous profile (which no concurrency check can see, as
   * they are read only once it is done) are refused rather than run back to back.
   */
  enter(): GateAnswer {
    const now = this.now();
    if (this.busy || now < this.closedUntil) {
      return { open: false, retryAfterSeconds: Math.max(1, Math.ceil((this.closedUntil - now) / 1000)) };
    }
    this.busy = true;
    let released = false;
    return {
      open: true,
      release: () => {
        if (released) return;
        released = true;
        this.busy = false;
        const ended = this.now();
        this.closedUntil = ended + (ended - now);
      },
    };
  }
}
