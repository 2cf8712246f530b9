import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatListenAddress, ListenAddressError, parseListenAddress } from '../../../src/config/listen-address.ts';

const GOOD: ReadonlyArray<[string, string, number, string]> = [
  // input, host, port, formatted
  [':9252', '', 9252, ':9252'],
  ['localhost:9252', 'localhost', 9252, 'localhost:9252'],
  ['localhost', 'localhost', 9252, 'localhost:9252'],
  ['127.0.0.1', '127.0.0.1', 9252, '127.0.0.1:9252'],
  ['127.0.0.1:8080', '127.0.0.1', 8080, '127.0.0.1:8080'],
  ['0.0.0.0:9252', '0.0.0.0', 9252, '0.0.0.0:9252'],
  ['[2001:db8::1]:9252', '2001:db8::1', 9252, '[2001:db8::1]:9252'],
  ['[2001:db8::1]:http', '2001:db8::1', 80, '[2001:db8::1]:80'],
  ['[::1]', '::1', 9252, '[::1]:9252'],
  ['[::]:9252', '::', 9252, '[::]:9252'],
  ['localhost:https', 'localhost', 443, 'localhost:443'],
  [':ssh', '', 22, ':22'],
  ['runner-01.example.com:9252', 'runner-01.example.com', 9252, 'runner-01.example.com:9252'],
  ['127.0.0.1:0', '127.0.0.1', 0, '127.0.0.1:0'],
  [':65535', '', 65535, ':65535'],
  ['  :9252  ', '', 9252, ':9252'],
];

for (const [input, host, port, formatted] of GOOD) {
  test(`listen address ${JSON.stringify(input)} is ${formatted}`, () => {
    const parsed = parseListenAddress(input);
    assert.deepEqual(parsed, { host, port });
    assert.equal(formatListenAddress(parsed!), formatted);
  });
}

test('an empty listen address disables the server', () => {
  assert.equal(parseListenAddress(''), undefined);
  assert.equal(parseListenAddress('   '), undefined);
});

const BAD: ReadonlyArray<[string, RegExp]> = [
  [':99999', /port 99999 is out of range 0-65535/],
  ['[::1', /missing '\]'/],
  ['host:port:extra', /too many colons/],
  [':nope', /unknown port or service name "nope"/],
  ['localhost:', /empty port/],
  ['::1', /too many colons.*brackets/],
  ['[::1]x', /unexpected "x" after '\]'/],
  ['[localhost]:80', /not an IPv6 address/],
  ['::1]:80', /too many colons|unexpected '\]'/],
  ['http://localhost:9252', /scheme or path/],
  ['exa mple:80', /space/],
  ['bad_host!:80', /not a host name or IP address/],
  [':-1', /unknown port or service name "-1"/],
];

for (const [input, reason] of BAD) {
  test(`listen address ${JSON.stringify(input)} is rejected with a one-line reason`, () => {
    assert.throws(() => parseListenAddress(input), (error: unknown) => {
      assert.ok(error instanceof ListenAddressError);
      assert.match(error.message, reason);
      assert.ok(error.message.includes(JSON.stringify(input)), `message names the value: ${error.message}`);
      assert.match(error.message, /expected \[HOST\]\[:PORT\]/);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  });
}
