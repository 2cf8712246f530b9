// `user` of [[runners]]: the users a shell runner's jobs run as, one for each
// job that may run at once. The file's checks (names, the executor, enough
// users, a user for one runner) are config.toml's; whether the users exist and
// the runner may switch to them is `runner run`'s check, here on this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../../src/config/load.ts';
import { checkJobUsersOnHost, lookupUser, UserLeases } from '../../../src/executors/shell/job-user.ts';

/** The one-line message of the ConfigError that `text` gives. */
function errorOf(text: string): string {
  try {
    parseConfigText(text, 'c.toml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`no error for ${text}`);
}

const runner = (lines: string, name = 'r'): string => `[[runners]]\nname = "${name}"\n${lines}\n`;

test('user is one name or a list of them; none: jobs run as the runner itself', () => {
  assert.deepEqual(parseConfigText(runner(''), 'c.toml').config.runners[0]!.user, []);
  assert.deepEqual(parseConfigText(runner('user = "ci"'), 'c.toml').config.runners[0]!.user, ['ci']);
  const pool = parseConfigText(`concurrent = 3\n${runner('user = ["ci-1", "ci_2", "ci.3"]')}`, 'c.toml');
  assert.deepEqual(pool.config.runners[0]!.user, ['ci-1', 'ci_2', 'ci.3']);
  assert.deepEqual(pool.warnings, []);
});

test('a user name that su or setpriv could read as an option or a path is refused, naming it', () => {
  for (const [value, shown] of [['"-rf"', 'the string "-rf"'], ['"a b"', 'the string "a b"'], ['"../x"', 'the string "../x"'], ['""', 'the string ""']]) {
    assert.equal(
      errorOf(runner(`user = ${value}`)),
      `c.toml: runners[0].user: expected a user name (letters, digits, _ . -, not starting with - or .) or a uid, got ${shown}`,
    );
  }
  assert.match(
    errorOf(`concurrent = 2\n${runner('user = ["ok", "--help"]')}`),
    /^c\.toml: runners\[0\]\.user\[1\]: expected a user name .* got the string "--help"$/,
  );
  assert.equal(errorOf(runner('user = 5')), 'c.toml: runners[0].user: expected a string or an array of strings, got integer 5');
});

test('user on a docker runner is refused: the container user is [runners.docker] user', () => {
  assert.equal(
    errorOf(runner('executor = "docker"\nuser = "ci"')),
    'c.toml: runners[0].user: only the shell executor runs jobs as another user; for the docker executor set [runners.docker] user (the user in the container), got "ci"',
  );
});

test('a runner names a user for every job it may run at once, each once, and no user serves two runners', () => {
  assert.equal(
    errorOf(`concurrent = 4\n${runner('user = "ci"')}`),
    'c.toml: runners[0].user: "ci" for up to 4 jobs at once (limit = 0, concurrent = 4): name a user for each job that may run at once, or set limit = 1',
  );
  assert.equal(
    errorOf(`concurrent = 4\n${runner('limit = 3\nuser = ["a", "b"]')}`),
    'c.toml: runners[0].user: 2 users for up to 3 jobs at once (limit = 3, concurrent = 4): name a user for each job that may run at once, or set limit = 2',
  );
  // The limit, or concurrent when it is lower, bounds the jobs at once.
  assert.doesNotThrow(() => parseConfigText(`concurrent = 4\n${runner('limit = 1\nuser = "ci"')}`, 'c.toml'));
  assert.doesNotThrow(() => parseConfigText(`concurrent = 2\n${runner('limit = 5\nuser = ["a", "b"]')}`, 'c.toml'));
  assert.equal(
    errorOf(`concurrent = 2\n${runner('user = ["a", "a"]')}`),
    'c.toml: runners[0].user[1]: "a" is named twice: each running job needs a user of its own',
  );
  assert.equal(
    errorOf(`concurrent = 2\n${runner('limit = 1\nuser = "a"', 'one')}${runner('limit = 1\nuser = ["b", "a"]', 'two')}`),
    'c.toml: runners[1].user: "a" is already a user of runners[0]; a user serves one runner',
  );
});

test('runner run refuses users that do not exist or are root, naming them', () => {
  const config = (user: string) => parseConfigText(runner(`user = ${JSON.stringify(user)}`), 'c.toml').config;
  const message = (user: string): string => {
    try {
      checkJobUsersOnHost(config(user), 'c.toml');
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.message;
    }
    return '';
  };
  if (process.getuid?.() === 0) {
    assert.equal(message('no-such-user-x9'), 'c.toml: runners[0].user: no user "no-such-user-x9" on this machine (create it with useradd)');
    assert.equal(message('root'), 'c.toml: runners[0].user: "root" is root (uid 0); jobs need an unprivileged user');
    assert.equal(message('0'), 'c.toml: runners[0].user: "0" is root (uid 0); jobs need an unprivileged user');
  } else {
    // Not root: that is what is said first, whichever the user.
    assert.match(message('root'), /^c\.toml: runners\[0\]\.user: cannot run jobs as "root": the runner \(uid \d+\) lacks CAP_CHOWN.*: run it as root$/);
  }
  assert.doesNotThrow(() => checkJobUsersOnHost(parseConfigText(runner(''), 'c.toml').config, 'c.toml'));
});

test('users are looked up by name or uid', () => {
  assert.deepEqual(lookupUser('root'), { name: 'root', uid: 0, gid: 0, home: '/root' });
  assert.equal(lookupUser('0')?.name, 'root');
  assert.equal(lookupUser('no-such-user-x9'), undefined);
});

test('each running job holds a user of its own: the first free one, freed when the job ends', () => {
  const leases = new UserLeases();
  assert.equal(leases.take(['a', 'b']), 'a');
  assert.equal(leases.take(['a', 'b']), 'b');
  assert.equal(leases.take(['a', 'b']), undefined);
  assert.equal(leases.take(['b', 'c']), 'c', 'held across runners too');
  leases.release('a');
  assert.equal(leases.take(['a', 'b']), 'a');
});
