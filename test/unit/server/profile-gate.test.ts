// The heap profiles' gate: one at a time, then a pause as long as the profile took.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileGate } from '../../../src/server/profile-gate.ts';

test('one profile at a time; after it, closed for as long as it took, with a Retry-After that covers the rest', () => {
  let now = 1_000_000;
  const gate = new ProfileGate(() => now);
  const first = gate.enter();
  assert.equal(first.open, true);
  assert.deepEqual(gate.enter(), { open: false, retryAfterSeconds: 1 });
  now += 2_500;
  if (first.open) first.release();
  assert.deepEqual(gate.enter(), { open: false, retryAfterSeconds: 3 }, 'closed for the 2.5 s it took');
  now += 2_499;
  assert.equal(gate.enter().open, false);
  now += 1;
  const second = gate.enter();
  assert.equal(second.open, true);
  // A release twice counts once.
  if (second.open) {
    second.release();
    second.release();
  }
  assert.equal(gate.enter().open, true, 'a profile that took no time leaves no pause');
});
