// Basic auth as the exporter toolkit checks it: Go's header parsing, outcomes
// cached by user, hash and password, unknown users checked like wrong
// passwords, and a bound on checks waiting their turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { BasicAuthChecker, basicCredentials, CACHE_SIZE, MAX_WAITING_CHECKS } from '../../../../src/server/web-config/basic-auth.ts';
import { bcryptHashProblem } from '../../../../src/server/web-config/bcrypt-hash.ts';

const basic = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
/** Cost 4 (the lowest) keeps these tests fast; the toolkit's users use 10. */
const users = new Map([['prom', bcrypt.hashSync('s3cret', 4).replace('$2b$', '$2y$')], ['ops', bcrypt.hashSync('pa:ss', 4)]]);

test("the Authorization header is read as Go's Request.BasicAuth reads it", () => {
  assert.deepEqual(basicCredentials(basic('prom:s3cret')), { user: 'prom', password: 's3cret' });
  assert.deepEqual(
    basicCredentials(`bAsIc ${Buffer.from('a:b:c').toString('base64')}`),
    { user: 'a', password: 'b:c' },
    'scheme in any case; the first colon splits',
  );
  assert.deepEqual(basicCredentials(basic(':')), { user: '', password: '' });
  assert.equal(basicCredentials(undefined), undefined);
  assert.equal(basicCredentials(basic('no-colon')), undefined);
  assert.equal(basicCredentials('Bearer abc'), undefined);
  assert.equal(basicCredentials('Basic not*base64'), undefined);
});

test('right password allowed; wrong one, unknown user and a password of another user denied ($2y$ of htpasswd and $2b$ alike)', async () => {
  const checker = new BasicAuthChecker();
  assert.equal(await checker.check(users, { user: 'prom', password: 's3cret' }), 'allowed');
  assert.equal(await checker.check(users, { user: 'ops', password: 'pa:ss' }), 'allowed');
  assert.equal(await checker.check(users, { user: 'prom', password: 'wrong' }), 'denied');
  assert.equal(await checker.check(users, { user: 'nobody', password: 's3cret' }), 'denied');
  assert.equal(await checker.check(users, { user: 'ops', password: 's3cret' }), 'denied');
});

test('outcomes are cached (a second check costs no bcrypt), misses included; a changed hash is not served from the cache', async () => {
  const checker = new BasicAuthChecker();
  await checker.check(users, { user: 'prom', password: 's3cret' });
  await checker.check(users, { user: 'prom', password: 'wrong' });
  await checker.check(users, { user: 'nobody', password: 'x' });
  assert.equal(checker.cached, 3, 'the unknown user went through a check like a wrong password');
  assert.equal(await checker.check(users, { user: 'prom', password: 's3cret' }), 'allowed');
  assert.equal(checker.cached, 3);
  const rotated = new Map([['prom', bcrypt.hashSync('new', 4)]]);
  assert.equal(await checker.check(rotated, { user: 'prom', password: 's3cret' }), 'denied', 'the old password no longer works');
  assert.equal(await checker.check(rotated, { user: 'prom', password: 'new' }), 'allowed');
});

test('the cache stays at its size, dropping a tenth at random when full', async () => {
  const checker = new BasicAuthChecker(() => 0.5);
  const one = new Map([['u', bcrypt.hashSync('p', 4)]]);
  for (let i = 0; i < CACHE_SIZE + 25; i++) await checker.check(one, { user: 'u', password: `guess-${i}` });
  assert.ok(checker.cached <= CACHE_SIZE, `${checker.cached} outcomes kept`);
  assert.ok(checker.cached >= CACHE_SIZE - CACHE_SIZE / 10);
});

test(`checks run one at a time; past ${MAX_WAITING_CHECKS} waiting, the next is told busy`, async () => {
  const checker = new BasicAuthChecker();
  const slow = new Map([['u', bcrypt.hashSync('p', 8)]]);
  const pending = Array.from({ length: MAX_WAITING_CHECKS }, (_, i) => checker.check(slow, { user: 'u', password: `g${i}` }));
  assert.equal(await checker.check(slow, { user: 'u', password: 'one too many' }), 'busy');
  assert.deepEqual(new Set(await Promise.all(pending)), new Set(['denied']));
  assert.equal(await checker.check(slow, { user: 'u', password: 'p' }), 'allowed', 'free again once they are done');
});

test("hashes are checked as Go's bcrypt.Cost checks them", () => {
  assert.equal(bcryptHashProblem('$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi'), undefined);
  assert.equal(bcryptHashProblem('doe'), 'crypto/bcrypt: hashedSecret too short to be a bcrypted password');
  assert.match(
    bcryptHashProblem('$3a$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi') ?? '',
    /version '3' requested is newer than current version '2'/,
  );
  assert.match(bcryptHashProblem('$2a$03$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi') ?? '', /cost 3 is outside allowed range \(4,31\)/);
  assert.match(bcryptHashProblem('$2a$1x$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi') ?? '', /invalid cost/);
});
