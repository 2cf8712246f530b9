// GitLab Runner's system_id: `s_` and 12 hex characters of an HMAC of the
// machine id (keyed by it, over "gitlab-runner"), or `r_` and 12 random
// alphanumerics without one; kept in .runner_system_id beside config.toml
// (mode 0600, no newline), reused while it holds a valid id and replaced
// when it does not (commands/internal/configfile/system_id_state.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config/load.ts';
import { loadSystemId, machineId, newSystemId, SYSTEM_ID_FILE } from '../../../src/config/system-id.ts';

const VALID = /^[sr]_[0-9a-zA-Z]{12}$/;

function withDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'runner-system-id-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('from a machine id: s_ and the first 12 hex characters of HMAC-SHA256(key: machine id, message: "gitlab-runner")', () => {
  const machine = '3d1219c7c4c5404aaa1f6d2a48adfda4';
  const expected = `s_${createHmac('sha256', machine).update('gitlab-runner').digest('hex').slice(0, 12)}`;
  assert.equal(newSystemId(machine), expected);
  assert.match(newSystemId(machine), /^s_[0-9a-f]{12}$/);
  assert.equal(newSystemId(machine), newSystemId(machine), 'stable: the same machine gets the same id');
  assert.notEqual(newSystemId('another-machine'), expected);
});

test('without a machine id: r_ and 12 random alphanumerics, different each time', () => {
  const ids = Array.from({ length: 20 }, () => newSystemId(undefined));
  for (const id of ids) assert.match(id, /^r_[0-9a-zA-Z]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
});

test("the machine id is read as GitLab Runner's library reads it: D-Bus's file first, the next only if it cannot be read", () => {
  withDir((dir) => {
    const dbus = join(dir, 'dbus-machine-id');
    const etc = join(dir, 'etc-machine-id');
    writeFileSync(etc, 'etc-id\n');
    assert.equal(machineId([dbus, etc]), 'etc-id', 'the first missing: the second');
    writeFileSync(dbus, '  dbus-id\n');
    assert.equal(machineId([dbus, etc]), 'dbus-id', 'the first wins, trimmed');
    writeFileSync(dbus, '\n');
    assert.equal(machineId([dbus, etc]), undefined, 'an empty first file means no machine id (a random system id)');
    assert.equal(machineId([join(dir, 'none')]), undefined);
  });
});

test('the first run makes .runner_system_id beside config.toml: the id alone, no newline, mode 0600', () => {
  withDir((dir) => {
    const { id, path, warning } = loadSystemId('config.toml', dir);
    assert.equal(path, join(dir, SYSTEM_ID_FILE));
    assert.equal(SYSTEM_ID_FILE, '.runner_system_id');
    assert.match(id, VALID);
    assert.equal(warning, undefined);
    assert.equal(readFileSync(path, 'utf8'), id);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
});

test('the file is found beside the given config file, wherever the working directory is', () => {
  withDir((dir) => {
    mkdirSync(join(dir, 'etc'));
    const { path } = loadSystemId('etc/runner.toml', dir);
    assert.equal(path, join(dir, 'etc', SYSTEM_ID_FILE));
    assert.equal(loadSystemId(join(dir, 'etc', 'runner.toml'), '/').path, path, 'an absolute config path');
    assert.equal(loadSystemId(undefined, dir).path, join(dir, SYSTEM_ID_FILE), 'no config file: beside ./config.toml');
  });
});

test('a kept id is reused on every later run, surrounding whitespace ignored, the file untouched', () => {
  withDir((dir) => {
    const first = loadSystemId(undefined, dir).id;
    assert.equal(loadSystemId(undefined, dir).id, first);
    // GitLab Runner's own test value, with the blank lines and indentation of its test.
    const path = join(dir, SYSTEM_ID_FILE);
    writeFileSync(path, '\n\t\t\ts_c2d22f638c25\n\t\t\t');
    assert.equal(loadSystemId(undefined, dir).id, 's_c2d22f638c25');
    assert.equal(readFileSync(path, 'utf8'), '\n\t\t\ts_c2d22f638c25\n\t\t\t', 'a valid file is not rewritten');
    writeFileSync(path, 'r_AbCdEf012345');
    assert.equal(loadSystemId(undefined, dir).id, 'r_AbCdEf012345', 'a random id is as good as a machine one');
  });
});

test('an empty or corrupt file is replaced by a new id, as GitLab Runner does', () => {
  withDir((dir) => {
    const path = join(dir, SYSTEM_ID_FILE);
    // The cases of GitLab Runner's TestSystemIDStateLoadFromFile, and a few more.
    for (
      const corrupt of [
        '',
        'foooooooor_000000000000barrrrr',
        '\ngarbage\nr_c2d22f638c25',
        's_0123456789a',
        's_0123456789abc',
        'x_0123456789ab',
        's_01234567-9ab',
      ]
    ) {
      writeFileSync(path, corrupt, { mode: 0o600 });
      const { id, warning } = loadSystemId(undefined, dir);
      assert.match(id, VALID, JSON.stringify(corrupt));
      assert.notEqual(id, corrupt.trim());
      assert.equal(warning, undefined);
      assert.equal(readFileSync(path, 'utf8'), id, `${JSON.stringify(corrupt)} replaced`);
    }
  });
});

test('a state file that cannot be read is an error naming it; one that cannot be written is a warning, and the id is used anyway', () => {
  withDir((dir) => {
    // GitLab Runner's TestSaveSystemIDStateToNonFile: the path is a directory.
    mkdirSync(join(dir, SYSTEM_ID_FILE));
    assert.throws(
      () => loadSystemId(undefined, dir),
      (error: unknown) => error instanceof ConfigError && error.message === `${join(dir, SYSTEM_ID_FILE)}: cannot read the runner's system ID: EISDIR`,
    );
  });
  // /proc takes no new file, even from root.
  const { id, path, warning } = loadSystemId('/proc/config.toml', '/');
  assert.match(id, VALID);
  assert.equal(path, `/proc/${SYSTEM_ID_FILE}`);
  assert.match(warning ?? '', /^Couldn't save new system ID on state file \/proc\/\.runner_system_id \(\w+\): /);
});
