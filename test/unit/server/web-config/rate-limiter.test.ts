// rate_limit as Go's rate.Limiter: `burst` at once, then one per interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../../../src/server/web-config/rate-limiter.ts';

test('a burst, then one token per interval, never more than the burst saved up', () => {
  let now = 0;
  const limiter = new RateLimiter({ intervalMs: 1000, burst: 2 }, () => now);
  assert.equal(limiter.allow(), true);
  assert.equal(limiter.allow(), true);
  assert.equal(limiter.allow(), false);
  assert.equal(limiter.retryAfterSeconds(), 1);
  now += 999;
  assert.equal(limiter.allow(), false);
  now += 1;
  assert.equal(limiter.allow(), true);
  now += 60_000;
  assert.equal(limiter.allow(), true);
  assert.equal(limiter.allow(), true);
  assert.equal(limiter.allow(), false, 'a long pause saves up the burst, no more');
});

test('a burst of 0 lets nothing through (as Go)', () => {
  let now = 0;
  const limiter = new RateLimiter({ intervalMs: 10, burst: 0 }, () => now);
  now += 1_000;
  assert.equal(limiter.allow(), false);
});
