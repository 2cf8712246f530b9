// The web config's rate_limit: Go's rate.Limiter as the toolkit uses it, a
// token bucket of `burst` tokens, one coming back every `interval`; a request
// that finds none is answered 429.
import type { RateLimit } from './web-config.ts';

export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(private readonly limit: RateLimit, private readonly now: () => number = () => performance.now()) {
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes a token if there is one. */
  allow(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + (now - this.last) / this.limit.intervalMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Seconds until the next token, for Retry-After. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) * this.limit.intervalMs) / 1000));
  }
}
