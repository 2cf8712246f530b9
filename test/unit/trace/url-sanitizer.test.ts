// Credential parameters of URLs masked in every job log, as GitLab Runner's
// URL sanitizer does (common/buildlogger/internal/urlsanitizer): after `?` or
// `&`, the value of private_token, authenticity_token, rss_token,
// X-Amz-Signature, X-Amz-Credential or X-Amz-Security-Token, any case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { MASKED_URL_PARAMETERS, UrlSanitizer } from '../../../src/trace/url-sanitizer.ts';

/** Feeds the chunks through a UrlSanitizer, then flushes it. */
function sanitize(...chunks: string[]): string {
  const parts: Buffer[] = [];
  const sanitizer = new UrlSanitizer((chunk) => parts.push(Buffer.from(chunk)));
  for (const chunk of chunks) sanitizer.write(Buffer.from(chunk));
  sanitizer.flush();
  return Buffer.concat(parts).toString('utf8');
}

test("the parameters are GitLab's six", () => {
  assert.deepEqual([...MASKED_URL_PARAMETERS].sort(), [
    'authenticity_token',
    'private_token',
    'rss_token',
    'x-amz-credential',
    'x-amz-security-token',
    'x-amz-signature',
  ]);
});

test('each parameter is masked after ? or &, in any letter case, up to the next ?, & or white space', () => {
  for (const key of MASKED_URL_PARAMETERS) {
    assert.equal(sanitize(`GET https://example.com/x?${key}=deadbeef HTTP/1.1`), `GET https://example.com/x?${key}=[MASKED] HTTP/1.1`, key);
    assert.equal(sanitize(`https://example.com/x?a=1&${key.toUpperCase()}=deadbeef&b=2`), `https://example.com/x?a=1&${key.toUpperCase()}=[MASKED]&b=2`, key);
  }
  assert.equal(
    sanitize('a sensitive URL http://example.com/?X-AMZ-sigNATure=deadbeef with mixed case'),
    'a sensitive URL http://example.com/?X-AMZ-sigNATure=[MASKED] with mixed case',
  );
  assert.equal(
    sanitize('http://example.com/?rss_token=hide&x-amz-credential=deadbeef both params'),
    'http://example.com/?rss_token=[MASKED]&x-amz-credential=[MASKED] both params',
  );
  assert.equal(sanitize('at the end http://example.com/?authenticity_token=deadbeef'), 'at the end http://example.com/?authenticity_token=[MASKED]');
  assert.equal(sanitize('?private_token=abc\nnext line'), '?private_token=[MASKED]\nnext line');
  assert.equal(sanitize('?private_token=abc\bx'), '?private_token=[MASKED]\bx', 'a control character ends the value');
  assert.equal(sanitize('?private_token=!@#$A&x=1'), '?private_token=[MASKED]&x=1', 'any other character is part of the value');
});

test('what is not a credential parameter passes unchanged', () => {
  const unchanged = [
    'no escaping at all http://example.org/?test=foobar',
    'private_token=notmasked without ? or &',
    'http://example.com/?my_private_token=x&private_tokens=y&private_token_x=z',
    'http://example.org/?this-is-a-really-really-long-key-name=foobar',
    'terminated before the key: ?x',
    '?x-amz-security-token without =',
    // Credentials in the authority are not the sanitizer's (GitLab Runner leaves them to the masked variables).
    'git clone https://gitlab-ci-token:secret@gitlab.example.com/group/project.git',
  ];
  for (const text of unchanged) assert.equal(sanitize(text), text);
});

test('empty values, doubled separators and interleaved parameters, as GitLab masks them', () => {
  assert.equal(sanitize('http://example.com/?x-amz-credential=&private_token=gitlab'), 'http://example.com/?x-amz-credential=[MASKED]&private_token=[MASKED]');
  assert.equal(
    sanitize('http://example.com/?x-amz-credential=abc&&private_token=gitlab'),
    'http://example.com/?x-amz-credential=[MASKED]&&private_token=[MASKED]',
  );
  assert.equal(
    sanitize('http://example.com/?x-amz-credential=abc??private_token=gitlab'),
    'http://example.com/?x-amz-credential=[MASKED]??private_token=[MASKED]',
  );
  assert.equal(sanitize('multiple: ?x-amz-security?x-amz-security-token=hello'), 'multiple: ?x-amz-security?x-amz-security-token=[MASKED]');
  assert.equal(
    sanitize('interweaved: ?one ?x-amz-credential=abc two=three ?one=two &token &x-amz-credential=abc =token ?='),
    'interweaved: ?one ?x-amz-credential=[MASKED] two=three ?one=two &token &x-amz-credential=[MASKED] =token ?=',
  );
  assert.equal(sanitize('ends with the key: ?x-amz-credential='), 'ends with the key: ?x-amz-credential=[MASKED]');
});

test('a parameter cut between chunks, at every position, is masked the same; a long value is one [MASKED]', () => {
  const input = 'see http://example.com/?a=b&private_token=glpat-abc123&rss_token=x y';
  const expected = 'see http://example.com/?a=b&private_token=[MASKED]&rss_token=[MASKED] y';
  for (let i = 0; i <= input.length; i++) {
    assert.equal(sanitize(input.slice(0, i), input.slice(i)), expected, `cut at ${i}`);
  }
  assert.equal(sanitize(...input.split('')), expected, 'one byte per chunk');
  assert.equal(sanitize('split on &: http://example.com/', '&', 'x-amz-cre', 'dential=abc'), 'split on &: http://example.com/&x-amz-credential=[MASKED]');
  assert.equal(
    sanitize('split after ?: http://example.com/', '?', '', 'x-amz-cre', 'dential=abc'),
    'split after ?: http://example.com/?x-amz-credential=[MASKED]',
  );
  const long = '0'.repeat(8 * 1024);
  assert.equal(sanitize('?x-amz-credential=', long.slice(0, 5000), long.slice(5000), ' still scrubbed'), '?x-amz-credential=[MASKED] still scrubbed');
});
