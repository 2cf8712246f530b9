// The job settings GitLab Runner reads from a job's variables
// (common/build_settings.go): each value, its default, and GitLab's warning
// text (and order) for a value it cannot use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSettings } from '../../../src/build/settings.ts';

function read(values: Record<string, string>, defaults: Partial<Parameters<typeof readSettings>[1]> = {}) {
  return readSettings((key) => values[key], { allowGitFetch: false, depth: 0, ...defaults });
}

test("defaults: clone (fetch when the coordinator allows it), checkout, no submodules, GitLab's git flags, one attempt", () => {
  const { settings, warnings } = read({});
  assert.deepEqual(warnings, []);
  assert.deepEqual(settings, {
    gitStrategy: 'clone',
    gitCheckout: true,
    submoduleStrategy: 'none',
    submodulePaths: [],
    submoduleDepth: 0,
    cleanFlags: ['-ffdx'],
    fetchFlags: ['--prune', '--quiet'],
    submoduleUpdateFlags: [],
    lfsSkipSmudge: false,
    submoduleForceHttps: false,
    getSourcesAttempts: 1,
    downloadArtifactsAttempts: 1,
    restoreCacheAttempts: 1,
    debugTrace: false,
    afterScriptIgnoreErrors: true,
    clonePath: '',
  });
  assert.equal(read({}, { allowGitFetch: true }).settings.gitStrategy, 'fetch');
  assert.equal(read({}, { depth: 20 }).settings.submoduleDepth, 20, "GIT_SUBMODULE_DEPTH defaults to the job's depth");
});

test('each setting read as GitLab Runner reads it', () => {
  const { settings, warnings } = read({
    GIT_STRATEGY: 'none',
    GIT_CHECKOUT: 'F',
    GIT_SUBMODULE_STRATEGY: 'recursive',
    GIT_SUBMODULE_PATHS: ' a  b\tc ',
    GIT_SUBMODULE_DEPTH: '+3',
    GIT_CLEAN_FLAGS: '-ffdx -e keep/',
    GIT_FETCH_EXTRA_FLAGS: 'none',
    GIT_SUBMODULE_UPDATE_FLAGS: '--remote --jobs 4',
    GIT_LFS_SKIP_SMUDGE: '1',
    GIT_SUBMODULE_FORCE_HTTPS: 'TRUE',
    GET_SOURCES_ATTEMPTS: '4',
    CI_DEBUG_TRACE: 'True',
    AFTER_SCRIPT_IGNORE_ERRORS: '0',
    GIT_CLONE_PATH: '$CI_BUILDS_DIR/x',
  });
  assert.deepEqual(warnings, []);
  assert.equal(settings.gitStrategy, 'none');
  assert.equal(settings.gitCheckout, false);
  assert.equal(settings.submoduleStrategy, 'recursive');
  assert.deepEqual(settings.submodulePaths, ['a', 'b', 'c']);
  assert.equal(settings.submoduleDepth, 3);
  assert.deepEqual(settings.cleanFlags, ['-ffdx', '-e', 'keep/']);
  assert.deepEqual(settings.fetchFlags, [], '"none" is no flags');
  assert.deepEqual(settings.submoduleUpdateFlags, ['--remote', '--jobs', '4']);
  assert.equal(settings.lfsSkipSmudge, true);
  assert.equal(settings.submoduleForceHttps, true);
  assert.equal(settings.getSourcesAttempts, 4);
  assert.equal(settings.debugTrace, true);
  assert.equal(settings.afterScriptIgnoreErrors, false);
  assert.equal(settings.clonePath, '$CI_BUILDS_DIR/x', 'as the (already expanded) list holds it');
  assert.deepEqual(read({ GIT_CLEAN_FLAGS: 'none', GIT_SUBMODULE_UPDATE_FLAGS: 'none', GIT_SUBMODULE_PATHS: 'none' }).settings.cleanFlags, []);
  assert.deepEqual(read({ GIT_SUBMODULE_UPDATE_FLAGS: 'none' }).settings.submoduleUpdateFlags, []);
  assert.deepEqual(read({ GIT_SUBMODULE_PATHS: 'none' }).settings.submodulePaths, ['none'], 'a path list has no "none"');
  for (const strategy of ['clone', 'fetch', 'empty'] as const) assert.equal(read({ GIT_STRATEGY: strategy }).settings.gitStrategy, strategy);
  for (const strategy of ['none', 'normal'] as const) assert.equal(read({ GIT_SUBMODULE_STRATEGY: strategy }).settings.submoduleStrategy, strategy);
});

test("bad values keep the default, with GitLab Runner's warning text", () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ GIT_STRATEGY: 'shallow' }, `GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got "shallow", using default value 'clone'`],
    [{ GIT_CHECKOUT: 'yes' }, 'GIT_CHECKOUT: expected bool got "yes", using default value: true'],
    [{ GIT_LFS_SKIP_SMUDGE: 'on' }, 'GIT_LFS_SKIP_SMUDGE: expected bool got "on", using default value: false'],
    [{ CI_DEBUG_TRACE: 'x' }, 'CI_DEBUG_TRACE: expected bool got "x", using default value: false'],
    [{ CI_DEBUG_SERVICES: 'x' }, 'CI_DEBUG_SERVICES: expected bool got "x", using default value: false'],
    [{ AFTER_SCRIPT_IGNORE_ERRORS: 'nope' }, 'AFTER_SCRIPT_IGNORE_ERRORS: expected bool got "nope", using default value: true'],
    [{ GIT_SUBMODULE_DEPTH: '1.5' }, 'GIT_SUBMODULE_DEPTH: expected int got "1.5", using default value: 0'],
    [{ GET_SOURCES_ATTEMPTS: 'three' }, 'GET_SOURCES_ATTEMPTS: expected int got "three", using default value: 1'],
    [{ GET_SOURCES_ATTEMPTS: ' 3' }, 'GET_SOURCES_ATTEMPTS: expected int got " 3", using default value: 1'],
    [{ GET_SOURCES_ATTEMPTS: '0x3' }, 'GET_SOURCES_ATTEMPTS: expected int got "0x3", using default value: 1'],
    [{ GET_SOURCES_ATTEMPTS: '99999999999999999999' }, 'GET_SOURCES_ATTEMPTS: expected int got "99999999999999999999", using default value: 1'],
    [{ CACHE_REQUEST_TIMEOUT: 'soon' }, 'CACHE_REQUEST_TIMEOUT: expected int got "soon", using default value: 10'],
    [{ RESTORE_CACHE_ATTEMPTS: 'x' }, 'RESTORE_CACHE_ATTEMPTS: expected int got "x", using default value: 1'],
    [{ GET_SOURCES_ATTEMPTS: '0' }, 'GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 1'],
    [{ GET_SOURCES_ATTEMPTS: '-2' }, 'GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 1'],
    [{ GET_SOURCES_ATTEMPTS: '11' }, 'GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10'],
    [{ ARTIFACT_DOWNLOAD_ATTEMPTS: '20' }, 'ARTIFACT_DOWNLOAD_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10'],
    [{ EXECUTOR_JOB_SECTION_ATTEMPTS: '0' }, 'EXECUTOR_JOB_SECTION_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 1'],
    [{ SECRETS_RETRIEVAL_ATTEMPTS: '12' }, 'SECRETS_RETRIEVAL_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10'],
  ];
  for (const [values, text] of cases) assert.deepEqual(read(values).warnings, [text], JSON.stringify(values));
  assert.equal(read({ GIT_STRATEGY: 'shallow' }, { allowGitFetch: true }).warnings[0]?.endsWith("using default value 'fetch'"), true);
  assert.equal(read({ GET_SOURCES_ATTEMPTS: '11' }).settings.getSourcesAttempts, 10);
  assert.equal(read({ GET_SOURCES_ATTEMPTS: '0' }).settings.getSourcesAttempts, 1);
  assert.equal(read({ GET_SOURCES_ATTEMPTS: 'three' }).settings.getSourcesAttempts, 1);
  assert.equal(read({ GIT_CHECKOUT: 'yes' }).settings.gitCheckout, true);
  assert.equal(read({ GIT_STRATEGY: 'shallow' }).settings.gitStrategy, 'clone');
  assert.deepEqual(read({ GIT_STRATEGY: '', GIT_CHECKOUT: '', GET_SOURCES_ATTEMPTS: '' }).warnings, [], 'empty is unset');
});

test('an unknown GIT_SUBMODULE_STRATEGY is kept as invalid (get_sources then fails), with its warning', () => {
  const { settings, warnings } = read({ GIT_SUBMODULE_STRATEGY: 'Normal' });
  assert.equal(settings.submoduleStrategy, 'invalid');
  assert.deepEqual(warnings, [`GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got "Normal"`]);
});

test("debug_trace_disabled refuses CI_DEBUG_TRACE and CI_DEBUG_SERVICES, with GitLab's warnings", () => {
  const refused = read({ CI_DEBUG_TRACE: 'true', CI_DEBUG_SERVICES: '1' }, { debugTraceDisabled: true });
  assert.equal(refused.settings.debugTrace, false);
  assert.deepEqual(refused.warnings, ['CI_DEBUG_TRACE: usage is disabled on this Runner', 'CI_DEBUG_SERVICES: usage is disabled on this Runner']);
  assert.deepEqual(read({ CI_DEBUG_TRACE: 'false' }, { debugTraceDisabled: true }).warnings, [], 'nothing asked, nothing refused');
});

test("the warnings in GitLab Runner's order: as the settings are read, then debug trace refused, then attempts clamped", () => {
  const { warnings } = read({
    GET_SOURCES_ATTEMPTS: '50',
    EXECUTOR_JOB_SECTION_ATTEMPTS: '0',
    AFTER_SCRIPT_IGNORE_ERRORS: 'maybe',
    GIT_CHECKOUT: 'maybe',
    CI_DEBUG_TRACE: '1',
    CI_DEBUG_SERVICES: 'maybe',
    GIT_STRATEGY: 'x',
  }, { debugTraceDisabled: true });
  assert.deepEqual(warnings.map((w) => w.slice(0, w.indexOf(':'))), [
    'CI_DEBUG_SERVICES',
    'GIT_STRATEGY',
    'GIT_CHECKOUT',
    'AFTER_SCRIPT_IGNORE_ERRORS',
    'CI_DEBUG_TRACE',
    'EXECUTOR_JOB_SECTION_ATTEMPTS',
    'GET_SOURCES_ATTEMPTS',
  ]);
});
