// Feature flags as GitLab Runner resolves them (common/build_settings.go
// populateFeatureFlags, helpers/featureflags/flags.go), and what this runner
// says of the ones it does not implement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GITLAB_FLAGS, HONOURED_FLAGS, isKnownFlag, resolveFlags, UNSUPPORTED_FLAGS } from '../../../src/build/feature-flags.ts';

const from = (values: Record<string, string>) => (key: string): string | undefined => values[key];

test("GitLab Runner 19.4's flags and defaults, in its order", () => {
  assert.equal(GITLAB_FLAGS.length, 52);
  assert.equal(new Set(GITLAB_FLAGS.map(([name]) => name)).size, 52);
  const defaults = new Map(GITLAB_FLAGS);
  // The defaults the shell executor's behaviour hangs on (flags.go).
  for (const [name, value] of Object.entries(HONOURED_FLAGS)) assert.equal(defaults.get(name), value, name);
  assert.equal(defaults.get('FF_SCRIPT_SECTIONS'), false);
  assert.equal(defaults.get('FF_USE_FASTZIP'), true);
  assert.equal(defaults.get('FF_ENABLE_JOB_INPUTS_INTERPOLATION'), true);
  assert.deepEqual(GITLAB_FLAGS.slice(0, 3).map(([name]) => name), ['FF_TEST_FEATURE', 'FF_NETWORK_PER_BUILD', 'FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY']);
  assert.equal(GITLAB_FLAGS.at(-1)![0], 'FF_USE_NATIVE_CONTAINER_STOP');
  for (const name of [...Object.keys(HONOURED_FLAGS), ...Object.keys(UNSUPPORTED_FLAGS)]) assert.ok(isKnownFlag(name), name);
  assert.equal(isKnownFlag('FF_MADE_UP'), false);
});

test("unset flags have their default; a job sets one with any of Go's booleans", () => {
  const defaults = resolveFlags(from({}));
  assert.deepEqual(defaults.flags, HONOURED_FLAGS);
  assert.deepEqual(defaults.all, GITLAB_FLAGS);
  assert.deepEqual([defaults.changed, defaults.errors, defaults.unsupported], [[], [], []]);

  for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
    assert.equal(resolveFlags(from({ FF_ENABLE_JOB_CLEANUP: text })).flags.FF_ENABLE_JOB_CLEANUP, true, text);
  }
  for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(resolveFlags(from({ FF_TIMESTAMPS: text })).flags.FF_TIMESTAMPS, false, text);
});

test("a value that is not a boolean keeps the default, with GitLab Runner's error", () => {
  for (const text of ['yes', 'on', '', ' true', 'TRue']) {
    const resolved = resolveFlags(from({ FF_USE_LEGACY_BASH_EVAL: text, FF_TIMESTAMPS: text }));
    assert.equal(resolved.flags.FF_USE_LEGACY_BASH_EVAL, false, text);
    assert.equal(resolved.flags.FF_TIMESTAMPS, true, text);
    // In GitLab's order (FF_USE_LEGACY_BASH_EVAL is defined before FF_TIMESTAMPS).
    assert.deepEqual(resolved.errors, [
      `FF_USE_LEGACY_BASH_EVAL: could not parse feature flag, expected bool, got ${text}`,
      `FF_TIMESTAMPS: could not parse feature flag, expected bool, got ${text}`,
    ]);
    assert.deepEqual(resolved.changed, []);
  }
  assert.deepEqual(
    resolveFlags(from({ FF_HASH_CACHE_KEYS: 'maybe' })).errors,
    ['FF_HASH_CACHE_KEYS: could not parse feature flag, expected bool, got maybe'],
    'any flag GitLab knows',
  );
  assert.deepEqual(resolveFlags(from({ FF_MADE_UP: 'maybe' })).errors, [], 'not a flag: not read');
});

test('the header names every flag set to other than its default, in GitLab order; all are exported with their values', () => {
  const resolved = resolveFlags(
    from({ FF_ENABLE_JOB_CLEANUP: 'true', FF_USE_LEGACY_BASH_EVAL: '1', FF_TIMESTAMPS: 'true', FF_HASH_CACHE_KEYS: 'true', FF_USE_FASTZIP: 'false' }),
  );
  assert.deepEqual(resolved.changed, ['FF_USE_FASTZIP:false', 'FF_USE_LEGACY_BASH_EVAL:true', 'FF_ENABLE_JOB_CLEANUP:true', 'FF_HASH_CACHE_KEYS:true']);
  const all = new Map(resolved.all);
  assert.equal(all.get('FF_ENABLE_JOB_CLEANUP'), true);
  assert.equal(all.get('FF_HASH_CACHE_KEYS'), true);
  assert.equal(all.get('FF_USE_FASTZIP'), false);
  assert.equal(all.get('FF_TIMESTAMPS'), true);
  assert.deepEqual(resolved.all.map(([name]) => name), GITLAB_FLAGS.map(([name]) => name));
});

test("a source's own default (a local job's FF_TIMESTAMPS) applies when the job does not set the flag", () => {
  assert.equal(resolveFlags(from({}), { FF_TIMESTAMPS: false }).flags.FF_TIMESTAMPS, false);
  assert.equal(new Map(resolveFlags(from({}), { FF_TIMESTAMPS: false }).all).get('FF_TIMESTAMPS'), false);
  assert.deepEqual(resolveFlags(from({}), { FF_TIMESTAMPS: false }).changed, [], 'not set by the job: not in the header');
  assert.equal(resolveFlags(from({ FF_TIMESTAMPS: 'true' }), { FF_TIMESTAMPS: false }).flags.FF_TIMESTAMPS, true);
});

test('an unsupported flag set to what this runner does not do is a warning; set to what it does, nothing', () => {
  const asked = resolveFlags(
    from({ FF_USE_GIT_NATIVE_CLONE: 'true', FF_USE_FASTZIP: 'false', FF_POSIXLY_CORRECT_ESCAPES: 'false', FF_NETWORK_PER_BUILD: 'nonsense' }),
  );
  assert.deepEqual(asked.unsupported, [
    'FF_USE_FASTZIP=false is not supported by this runner and is ignored: archives are written and read by one zip library (yazl, yauzl), whatever the flag',
    'FF_USE_GIT_NATIVE_CLONE=true is not supported by this runner and is ignored: sources are fetched with git init and git fetch',
  ]);
  assert.deepEqual(asked.errors, ['FF_NETWORK_PER_BUILD: could not parse feature flag, expected bool, got nonsense']);
  // Only the flags that change a shell-executor job are worth a warning: a Kubernetes flag is not.
  assert.deepEqual(resolveFlags(from({ FF_PRINT_POD_EVENTS: 'true' })).unsupported, []);
});
