// Attribute sets observed on every scrape are made once and frozen, so the
// SDK's collection can hash each one once (sdk-collection.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttributeSets, frozenAttributes } from '../../../src/telemetry/attribute-sets.ts';

test('a key gives the same frozen set each time, made from that key', () => {
  let made = 0;
  const sets = new AttributeSets((space: string) => {
    made++;
    return { space };
  });
  const first = sets.get('new_space');
  assert.deepEqual(first, { space: 'new_space' });
  assert.equal(Object.isFrozen(first), true);
  assert.equal(sets.get('new_space'), first);
  assert.notEqual(sets.get('old_space'), first);
  assert.equal(made, 2);
});

test('the sets kept are bounded: past 4096 keys a set is made fresh each time, still frozen', () => {
  const sets = new AttributeSets((n: number) => ({ n }));
  for (let n = 0; n < 4096; n++) sets.get(n);
  const late = sets.get(5000);
  assert.equal(Object.isFrozen(late), true);
  assert.notEqual(sets.get(5000), late);
  assert.equal(sets.get(7), sets.get(7));
});

test("frozenAttributes copies: freezing never touches the caller's object", () => {
  const labels = { version: '1' };
  const frozen = frozenAttributes(labels);
  assert.equal(Object.isFrozen(frozen), true);
  assert.equal(Object.isFrozen(labels), false);
  assert.deepEqual(frozen, labels);
});
