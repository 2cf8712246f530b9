// The shell executor's resource sampler on processes it can and cannot see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ResourceSampler } from '../../../src/executors/shell/resources.ts';

test('a process gone before the first sample has no peak RSS (undefined), not a peak of 0', () => {
  const sampler = new ResourceSampler();
  // Above the kernel's pid_max limit (2^22): no such process can exist.
  sampler.track(2 ** 22 + 1);
  sampler.untrack();
  assert.equal(sampler.use.peakRssBytes, undefined);
  assert.equal(sampler.use.measuredBy, 'sampled');
});

test('a live process has its resident memory sampled', async () => {
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    const sampler = new ResourceSampler();
    sampler.track(child.pid!);
    sampler.untrack();
    assert.ok((sampler.use.peakRssBytes ?? 0) > 0, `peak ${sampler.use.peakRssBytes}`);
  } finally {
    child.kill('SIGKILL');
  }
});
