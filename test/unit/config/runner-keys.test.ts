// The [[runners]] keys that shape a job as GitLab Runner's config.toml does:
// shell, environment, the four runner scripts, debug_trace_disabled and
// [runners.custom_build_dir]. Each is read, has GitLab Runner's default, and
// a bad value is a one-line error naming the key, the value and what was expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../../src/config/load.ts';
import type { RunnerConfig } from '../../../src/config/types.ts';

/** The one runner of a config.toml made of a [[runners]] table with `lines` in it. */
function runnerOf(lines: string): RunnerConfig {
  const { config, warnings } = parseConfigText(`[[runners]]\nname = "r"\n${lines}\n`, 'c.toml');
  assert.deepEqual(warnings, []);
  return config.runners[0]!;
}

/** The one-line message of the ConfigError that `lines` in a [[runners]] table give. */
function errorOf(lines: string): string {
  try {
    parseConfigText(`[[runners]]\nname = "r"\n${lines}\n`, 'c.toml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`no error for ${lines}`);
}

test('a runner without the new keys gets GitLab Runner defaults', () => {
  const runner = runnerOf('');
  assert.equal(runner.shell, undefined, 'no shell: the executor picks bash if on PATH, else sh');
  assert.deepEqual(runner.environment, []);
  assert.deepEqual(runner.scripts, { preGetSources: undefined, postGetSources: undefined, preBuild: undefined, postBuild: undefined });
  assert.equal(runner.debugTraceDisabled, false);
  assert.equal(runner.customBuildDir, false, "off for the shell executor, as GitLab Runner's DefaultCustomBuildsDirEnabled");
});

test('shell is bash or sh', () => {
  assert.equal(runnerOf('shell = "bash"').shell, 'bash');
  assert.equal(runnerOf('shell = "sh"').shell, 'sh');
  for (const [value, shown] of [['"zsh"', 'the string "zsh"'], ['"pwsh"', 'the string "pwsh"'], ['""', 'the string ""'], ['true', 'boolean true']]) {
    assert.equal(errorOf(`shell = ${value}`), `c.toml: runners[0].shell: expected one of bash, sh, got ${shown}`);
  }
});

test('environment entries are KEY=value strings: the value may be empty or hold "=", the key must be a variable name', () => {
  assert.deepEqual(runnerOf('environment = ["A=1", "B=", "C=x=y", "_D9=$A and spaces"]').environment, ['A=1', 'B=', 'C=x=y', '_D9=$A and spaces']);
  assert.deepEqual(runnerOf('environment = []').environment, []);
  assert.equal(errorOf('environment = "A=1"'), 'c.toml: runners[0].environment: expected an array of strings, got the string "A=1"');
  assert.equal(errorOf('environment = ["A=1", 2]'), 'c.toml: runners[0].environment: expected an array of strings, got an array');
  // GitLab Runner silently drops an entry without "=" (and lets a bad key break every job's script): here the file is refused, naming the entry.
  assert.equal(
    errorOf('environment = ["A=1", "NOEQUALS"]'),
    'c.toml: runners[0].environment[1]: expected KEY=value with KEY a variable name (letters, digits, _), got the string "NOEQUALS"',
  );
  for (const [entry, shown] of [['=value', '"=..."'], ['1ABC=x', '"1ABC=..."'], ['MY-VAR=x', '"MY-VAR=..."'], ['A B=x', '"A B=..."']]) {
    assert.equal(
      errorOf(`environment = [${JSON.stringify(entry)}]`),
      `c.toml: runners[0].environment[0]: expected KEY=value with KEY a variable name (letters, digits, _), got the string ${shown}`,
      entry,
    );
  }
});

test("a bad environment entry's value is never echoed: it may be a secret", () => {
  const message = errorOf('environment = ["DEPLOY-TOKEN=hunter2-secret"]');
  assert.match(message, /environment\[0\]: .*got the string "DEPLOY-TOKEN=\.\.\."$/);
  assert.ok(!message.includes('hunter2'), message);
});

test('the runner scripts are strings, read as written (multi-line ones too)', () => {
  const runner = runnerOf([
    'pre_get_sources_script = "git config --global http.lowSpeedLimit 1000"',
    'post_get_sources_script = "git log -1"',
    "pre_build_script = '''",
    'echo one',
    "echo two'''",
    'post_build_script = "echo done\\necho really"',
  ].join('\n'));
  assert.deepEqual(runner.scripts, {
    preGetSources: 'git config --global http.lowSpeedLimit 1000',
    postGetSources: 'git log -1',
    preBuild: 'echo one\necho two',
    postBuild: 'echo done\necho really',
  });
  for (const key of ['pre_get_sources_script', 'post_get_sources_script', 'pre_build_script', 'post_build_script']) {
    assert.equal(errorOf(`${key} = ["echo a"]`), `c.toml: runners[0].${key}: expected a string, got an array`);
    assert.equal(errorOf(`${key} = 1`), `c.toml: runners[0].${key}: expected a string, got integer 1`);
  }
});

test('debug_trace_disabled is a boolean', () => {
  assert.equal(runnerOf('debug_trace_disabled = true').debugTraceDisabled, true);
  assert.equal(runnerOf('debug_trace_disabled = false').debugTraceDisabled, false);
  assert.equal(errorOf('debug_trace_disabled = "true"'), 'c.toml: runners[0].debug_trace_disabled: expected true or false, got the string "true"');
});

test('[runners.custom_build_dir] enabled, as a section or an inline table; an empty table keeps the default', () => {
  assert.equal(runnerOf('[runners.custom_build_dir]\nenabled = true').customBuildDir, true);
  assert.equal(runnerOf('custom_build_dir = { enabled = true }').customBuildDir, true);
  assert.equal(runnerOf('custom_build_dir = { enabled = false }').customBuildDir, false);
  assert.equal(runnerOf('[runners.custom_build_dir]').customBuildDir, false);
  assert.equal(errorOf('custom_build_dir = true'), 'c.toml: runners[0].custom_build_dir: expected a table, got boolean true');
  assert.equal(
    errorOf('[runners.custom_build_dir]\nenabled = "yes"'),
    'c.toml: runners[0].custom_build_dir.enabled: expected true or false, got the string "yes"',
  );
});

test('an unknown key in [runners.custom_build_dir] is a warning naming its full path, like any unknown key', () => {
  const { config, warnings } = parseConfigText(
    '[[runners]]\nname = "a"\n[runners.custom_build_dir]\nenabled = true\nenable = true\n[[runners]]\nname = "b"\ncustom_build_dir = { "odd key" = 1 }\n',
    'c.toml',
  );
  assert.deepEqual(config.runners.map((r) => r.customBuildDir), [true, false]);
  assert.deepEqual(warnings, [
    'c.toml: unknown key runners[0].custom_build_dir.enable (ignored; did you mean runners[0].custom_build_dir.enabled?)',
    'c.toml: unknown key runners[1].custom_build_dir."odd key" (ignored)',
  ]);
});

test("the keys are per runner: one runner's settings do not leak into the next", () => {
  const { config } = parseConfigText(
    '[[runners]]\nname = "a"\nshell = "sh"\nenvironment = ["A=1"]\npre_build_script = "echo a"\n[runners.custom_build_dir]\nenabled = true\n[[runners]]\nname = "b"\n',
    'c.toml',
  );
  const [a, b] = config.runners;
  assert.deepEqual([a?.shell, a?.environment, a?.scripts.preBuild, a?.customBuildDir], ['sh', ['A=1'], 'echo a', true]);
  assert.deepEqual([b?.shell, b?.environment, b?.scripts.preBuild, b?.customBuildDir], [undefined, [], undefined, false]);
});
