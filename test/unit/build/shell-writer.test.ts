// The shell writer as GitLab Runner's bash writer shapes scripts
// (helpers/shell_escape.go, shells/bash.go): the quoting, checked against
// GitLab's own test cases and by round trips through a real bash and sh; the
// script around a stage's body; and how bash names the line of an error in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ansiCQuote, doubleQuote, posixQuote } from '../../../src/build/shell/escape.ts';
import { ScriptBody, stageScript } from '../../../src/build/shell/writer.ts';

/** Runs `script` on the shell's stdin, as the shell executor does. */
function shell(name: 'bash' | 'sh', script: string): { status: number | null; stdout: string; stderr: string } {
  // `exec -a bash`: bash named as GitLab Runner starts it (Deno's child_process passes the full path as argv[0]).
  const ran = spawnSync(name, name === 'bash' ? ['-c', 'exec -a bash bash'] : [], {
    input: script,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent-home' },
  });
  return { status: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

/** Strings a job's values hold in practice, and the ones that break naive quoting. */
const HOSTILE = [
  'plain',
  'with space',
  "it's",
  '\'single\' "double" `back`',
  '$HOME ${HOME} $(id) $((1+1)) \\$ $$',
  'back\\slash \\n \\x41 \\\\',
  'line1\nline2\n',
  '\ttab\r\ncrlf\u000b\u000c\u0007\u0008',
  'ctrl \u0001\u0002\u001b[31m\u007f',
  'non-ASCII: é ü 世界 🚀',
  '!history ;&|<>*?[a]{b,c}~# %',
  '-n',
  '--',
  "''",
  '\\',
  "'",
  ' leading and trailing ',
];

test("ANSI-C quoting: GitLab's test cases (shell_escape_test.go)", () => {
  const cases: Array<[string, string]> = [
    ['unquoted', 'unquoted'],
    ['standard string', "$'standard string'"],
    ['+\t\n\r&', "$'+\\t\\n\\r&'"],
    ['', "''"],
    ['hello, 世界', "$'hello, \\xe4\\xb8\\x96\\xe7\\x95\\x8c'"],
    ['blackslash \\n', "$'blackslash \\\\n'"],
    ['f', 'f'],
    ['\f', "$'\\f'"],
    ["export variable='test' && echo $variable", "$'export variable=\\'test\\' && echo $variable'"],
    ['$HOME', "$'$HOME'"],
    ["'$HOME'", "$'\\'$HOME\\''"],
    ['a,b-c./d@e_f', 'a,b-c./d@e_f'],
    ['\u0007\u0008\u000b\u001b\u007f', "$'\\a\\b\\v\\x1b\\x7f'"],
  ];
  for (const [input, output] of cases) assert.equal(ansiCQuote(input), output, JSON.stringify(input));
});

test('POSIX quoting for sh: bare when safe, else single quotes', () => {
  assert.equal(posixQuote('unquoted'), 'unquoted');
  assert.equal(posixQuote(''), "''");
  assert.equal(posixQuote('a b'), "'a b'");
  assert.equal(posixQuote("it's"), "'it'\\''s'");
  assert.equal(posixQuote('$HOME'), "'$HOME'");
  assert.equal(doubleQuote('$HOME/x'), '"$HOME/x"');
});

test('every hostile string, and every byte but NUL, survives a round trip through a real bash and sh', () => {
  const everyByte = Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1)).join('');
  const values = [...HOSTILE, everyByte];
  for (const [name, quote] of [['bash', ansiCQuote], ['sh', posixQuote]] as const) {
    const script = values.map((value) => `printf '%s\\000' ${quote(value)}`).join('\n') + '\n';
    const ran = shell(name, script);
    assert.equal(ran.status, 0, `${name}: ${ran.stderr}`);
    assert.deepEqual(ran.stdout.split('\0').slice(0, -1), values, name);
  }
});

test('a body: quoted commands, exports, notices in green, nested blocks indented by two spaces', () => {
  const body = new ScriptBody('bash');
  body.command('cd', '/builds/my project');
  body.export('CI_JOB_NAME', 'my job');
  body.export('EMPTY', '');
  body.notice('Fetching changes...');
  body.ifTest('-d /x', () => body.ifCommand('git lfs version', () => body.command('git', 'lfs', 'pull')), () => body.emptyLine());
  assert.equal(
    body.toString(),
    [
      "cd $'/builds/my project'",
      "export CI_JOB_NAME=$'my job'",
      "export EMPTY=''",
      "echo $'\\x1b[32;1mFetching changes...\\x1b[0;m'",
      'if [ -d /x ]; then',
      '  if git lfs version >/dev/null 2>&1 ; then',
      '    git lfs pull',
      '  fi',
      'else',
      '  echo',
      'fi',
      '',
    ].join('\n'),
  );
  const checked = new ScriptBody('bash', { exitCodeCheck: true });
  checked.command('false');
  assert.equal(
    checked.toString(),
    'false\n_runner_exit_code=$?; if [ $_runner_exit_code -ne 0 ]; then exit $_runner_exit_code; fi\n',
    'FF_ENABLE_BASH_EXIT_CODE_CHECK',
  );
});

test("the script around a body, as GitLab Runner's bash writer writes it", () => {
  const body = new ScriptBody('bash');
  body.command('echo', 'hi');
  assert.equal(
    stageScript(body),
    `#!/usr/bin/env bash\n\ntrap 'exit 1' TERM\n\ncase "$(set -o)" in *"pipefail"*) set -o pipefail;; esac; set -o errexit\nset +o noclobber\n(trap 'exit 1' TERM; eval $'echo hi\\n') < /dev/null\nexit 0\n`,
  );
  assert.equal(stageScript(body, { xtrace: true }).split('\n')[4], 'set -o xtrace', 'CI_DEBUG_TRACE: after the second blank line');
  assert.equal(stageScript(body, { xtrace: true }).split('\n')[7], "(trap 'exit 1' TERM; eval $'echo hi\\n') < /dev/null");
  assert.equal(stageScript(body, { legacyEval: true }).split('\n')[6], ": | eval $'echo hi\\n'", 'FF_USE_LEGACY_BASH_EVAL');
});

test("an error in the eval'd body is named `bash: line N:`, N counted from the eval line (7, or 8 with xtrace)", () => {
  const body = new ScriptBody('bash');
  body.command('echo', 'first');
  body.line('true');
  body.userCommand('no-such-command-for-this-test');
  body.command('echo', 'never');
  const ran = shell('bash', stageScript(body));
  assert.equal(ran.status, 127);
  assert.equal(ran.stdout, 'first\n');
  // The command is the third line of the body: 7 + 3 - 1.
  assert.equal(ran.stderr, 'bash: line 9: no-such-command-for-this-test: command not found\n');

  const traced = shell('bash', stageScript(body, { xtrace: true }));
  assert.match(traced.stderr, /^bash: line 10: no-such-command-for-this-test: command not found$/m);
  assert.match(traced.stderr, /^\+ set -o errexit$/m);
  assert.match(traced.stderr, /^\+\+ echo first$/m, 'the body traced one level down');
});

test('errexit and pipefail: the first failing command, even inside a pipe, ends the script with its status', () => {
  const body = new ScriptBody('bash');
  body.userCommand('false | true');
  body.userCommand('echo not reached');
  const ran = shell('bash', stageScript(body));
  assert.equal(ran.status, 1);
  assert.equal(ran.stdout, '');
  const exit = new ScriptBody('bash');
  exit.userCommand('exit 42');
  assert.equal(shell('bash', stageScript(exit)).status, 42);
  const ok = new ScriptBody('bash');
  ok.userCommand('false || true');
  assert.equal(shell('bash', stageScript(ok)).status, 0);
});

test("the body's stdin is /dev/null: a command reading it gets end of file, not the rest of the script", () => {
  const body = new ScriptBody('bash');
  body.userCommand('if read -r line; then echo "read: $line"; else echo eof; fi');
  const ran = shell('bash', stageScript(body) + 'echo after the script\n');
  assert.equal(ran.stdout, 'eof\n');
});

test('a script for sh (dash) runs the same way', () => {
  const body = new ScriptBody('sh');
  body.export('GREETING', "it's $HOME");
  body.notice('hello');
  body.userCommand('printf "%s\\n" "$GREETING"');
  body.userCommand('false');
  body.userCommand('echo not reached');
  const ran = shell('sh', stageScript(body));
  assert.equal(ran.status, 1);
  assert.equal(ran.stdout, "\x1b[32;1mhello\x1b[0;m\nit's $HOME\n");
});
