// The local queue's job file, durations and job ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pid } from 'node:process';
import { ConfigError } from '../../../../src/config/validate.ts';
import { MAX_DURATION_SECONDS, parseDuration } from '../../../../src/config/duration.ts';
import type { JobDefinition } from '../../../../src/job/model.ts';
import { parseJobFile, readJobFile } from '../../../../src/sources/local/job-file.ts';
import { isJobId, JOB_ID_PATTERN, jobIdTime, newJobId } from '../../../../src/sources/local/job-id.ts';

/** The error parseJobFile throws for `text`, checked to be a one-line ConfigError. */
function jobFileError(text: string, origin = 'job.toml'): string {
  try {
    parseJobFile(text, origin);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`no error for:\n${text}`);
}

const MINIMAL = 'name = "build"\nscript = ["make"]\n';

test('a full job file is read with every key', () => {
  const spec = parseJobFile(
    `
name = "unit-tests"
script = ["npm ci", "npm test"]
before_script = ["echo setup"]
after_script = ["echo cleanup"]
timeout = "10m"
[variables]
GREETING = "hello"
API_KEY = { value = "s3cretvalue", masked = true }
PLAIN = { value = "" }
SHOWN = { value = "x", masked = false }
_under_9 = "multi\\nline"
`,
    'job.toml',
  );
  const expected: JobDefinition = {
    name: 'unit-tests',
    script: ['npm ci', 'npm test'],
    beforeScript: ['echo setup'],
    afterScript: ['echo cleanup'],
    timeoutSeconds: 600,
    variables: [
      { key: 'GREETING', value: 'hello', masked: false },
      { key: 'API_KEY', value: 's3cretvalue', masked: true },
      { key: 'PLAIN', value: '', masked: false },
      { key: 'SHOWN', value: 'x', masked: false },
      { key: '_under_9', value: 'multi\nline', masked: false },
    ],
  };
  assert.deepEqual(spec, expected);
});

test('a minimal job file gets empty optional parts', () => {
  assert.deepEqual(parseJobFile(MINIMAL, 'job.toml'), {
    name: 'build',
    script: ['make'],
    beforeScript: [],
    afterScript: [],
    timeoutSeconds: undefined,
    variables: [],
  });
});

const GOOD: ReadonlyArray<readonly [what: string, text: string, check: (spec: JobDefinition) => void]> = [
  ['timeout in whole seconds', `${MINIMAL}timeout = 90\n`, (s) => assert.equal(s.timeoutSeconds, 90)],
  ['timeout 1h30m', `${MINIMAL}timeout = "1h30m"\n`, (s) => assert.equal(s.timeoutSeconds, 5400)],
  ['an empty [variables] table', `${MINIMAL}[variables]\n`, (s) => assert.deepEqual(s.variables, [])],
  ['empty optional script arrays', `${MINIMAL}before_script = []\nafter_script = []\n`, (s) => assert.deepEqual(s.afterScript, [])],
  [
    'a multi-line command',
    `name = "x"\nscript = ["""\nif true; then\n  echo yes\nfi\n"""]\n`,
    (s) => assert.equal(s.script[0], 'if true; then\n  echo yes\nfi\n'),
  ],
  ['a name of 255 characters with spaces and unicode', `name = "${'é'.repeat(254)} "\nscript = ["make"]\n`, (s) => assert.equal([...s.name].length, 255)],
  [
    'inline variables table',
    `${MINIMAL}variables = { A = "1", B = { value = "12345678", masked = true } }\n`,
    (s) => assert.deepEqual(s.variables, [{ key: 'A', value: '1', masked: false }, { key: 'B', value: '12345678', masked: true }]),
  ],
  [
    'a masked value of exactly 8 characters (code points)',
    `${MINIMAL}[variables]\nK = { value = "ab€d😀fgh", masked = true }\n`,
    (s) => assert.equal(s.variables[0]?.masked, true),
  ],
];

for (const [what, text, check] of GOOD) {
  test(`good job file: ${what}`, () => check(parseJobFile(text, 'job.toml')));
}

const EXPECTED_COMMANDS = 'array of commands such as ["npm ci", "npm test"]';
const EXPECTED_VARIABLE = 'expected a string or a table such as { value = "...", masked = true }';

const BAD: ReadonlyArray<readonly [what: string, text: string, message: string]> = [
  [
    'unknown key',
    `${MINIMAL}tags = ["node"]\n`,
    'job.toml: unknown key tags: a job file has only name, script, before_script, after_script, timeout, repository, ref, artifacts, cache, needs, dependencies, image, services, traceparent, tracestate and [variables]',
  ],
  [
    'unknown keys, a table among them',
    `stage = "test"\n${MINIMAL}[rules]\nif = "x"\n`,
    'job.toml: unknown keys stage, rules: a job file has only name, script, before_script, after_script, timeout, repository, ref, artifacts, cache, needs, dependencies, image, services, traceparent, tracestate and [variables]',
  ],
  [
    'a misspelt key is unknown, not a missing one',
    'name = "x"\nscripts = ["make"]\n',
    'job.toml: unknown key scripts (did you mean script?): a job file has only name, script, before_script, after_script, timeout, repository, ref, artifacts, cache, needs, dependencies, image, services, traceparent, tracestate and [variables]',
  ],
  [
    'a typo gets the key it is likely meant to be, as config.toml does',
    'name = "x"\nscirpt = ["make"]\n',
    'job.toml: unknown key scirpt (did you mean script?): a job file has only name, script, before_script, after_script, timeout, repository, ref, artifacts, cache, needs, dependencies, image, services, traceparent, tracestate and [variables]',
  ],
  [
    'several typos each get theirs; a key the file already has is not suggested',
    `${MINIMAL}tiemout = "1m"\nscirpt = ["make"]\nafter_scrip = []\n`,
    'job.toml: unknown keys tiemout, scirpt, after_scrip (did you mean timeout for tiemout, after_script for after_scrip?): a job file has only name, script, before_script, after_script, timeout, repository, ref, artifacts, cache, needs, dependencies, image, services, traceparent, tracestate and [variables]',
  ],
  ['missing name', 'script = ["make"]\n', 'job.toml: name: required, a non-empty string'],
  ['empty name', 'name = ""\nscript = ["make"]\n', 'job.toml: name: expected a non-empty string of at most 255 printable characters, got the string ""'],
  ['blank name', 'name = "  "\nscript = ["make"]\n', 'job.toml: name: expected a non-empty string of at most 255 printable characters, got the string "  "'],
  ['name not a string', 'name = 5\nscript = ["make"]\n', 'job.toml: name: expected a non-empty string of at most 255 printable characters, got integer 5'],
  [
    'name with a control character',
    'name = "a\\tb"\nscript = ["make"]\n',
    'job.toml: name: expected a non-empty string of at most 255 printable characters, got the string "a\\tb"',
  ],
  [
    'name too long',
    `name = "${'n'.repeat(256)}"\nscript = ["make"]\n`,
    `job.toml: name: expected a non-empty string of at most 255 printable characters, got the string "${'n'.repeat(80)}"... (256 characters)`,
  ],
  ['missing script', 'name = "x"\n', `job.toml: script: required, a non-empty ${EXPECTED_COMMANDS}`],
  ['empty script', 'name = "x"\nscript = []\n', `job.toml: script: expected a non-empty ${EXPECTED_COMMANDS}, got an empty array`],
  ['script a string', 'name = "x"\nscript = "make"\n', `job.toml: script: expected a non-empty ${EXPECTED_COMMANDS}, got the string "make"`],
  ['script a table', 'name = "x"\n[script]\n', `job.toml: script: expected a non-empty ${EXPECTED_COMMANDS}, got a table`],
  ['empty command', 'name = "x"\nscript = ["make", ""]\n', 'job.toml: script[1]: expected a non-empty command string, got the string ""'],
  ['command not a string', 'name = "x"\nscript = ["make", 3]\n', 'job.toml: script[1]: expected a non-empty command string, got integer 3'],
  ['before_script a string', `${MINIMAL}before_script = "echo"\n`, `job.toml: before_script: expected an ${EXPECTED_COMMANDS}, got the string "echo"`],
  ['after_script with a boolean', `${MINIMAL}after_script = [true]\n`, 'job.toml: after_script[0]: expected a non-empty command string, got boolean true'],
  [
    'command with NUL',
    `${MINIMAL}after_script = ["a\\u0000b"]\n`,
    'job.toml: after_script[0]: expected a non-empty command string, got the string "a\\u0000b"',
  ],
  [
    'timeout in words',
    `${MINIMAL}timeout = "10 min"\n`,
    'job.toml: timeout: expected a whole number of seconds or a duration such as "90s", "10m" or "1h30m" ' +
    '(units h, m, s, each at most once, in that order), got the string "10 min"',
  ],
  ['timeout zero', `${MINIMAL}timeout = 0\n`, 'job.toml: timeout: expected a duration from 1 second to 7 days (604800 seconds), got integer 0'],
  [
    'timeout too long',
    `${MINIMAL}timeout = "200h"\n`,
    'job.toml: timeout: expected a duration from 1 second to 7 days (604800 seconds), got the string "200h"',
  ],
  [
    'variables not a table',
    `${MINIMAL}variables = ["A=1"]\n`,
    'job.toml: variables: expected a table ([variables] with lines such as GREETING = "hello"), got an array',
  ],
  [
    'variable name with a dash',
    `${MINIMAL}[variables]\n"MY-VAR" = "x"\n`,
    'job.toml: variables.MY-VAR: expected a variable name of letters, digits and _ that does not start with a digit',
  ],
  [
    'variable name with a space',
    `${MINIMAL}[variables]\n"MY VAR" = "x"\n`,
    'job.toml: variables."MY VAR": expected a variable name of letters, digits and _ that does not start with a digit',
  ],
  [
    'variable name starting with a digit',
    `${MINIMAL}[variables]\n1ST = "x"\n`,
    'job.toml: variables.1ST: expected a variable name of letters, digits and _ that does not start with a digit',
  ],
  [
    'empty variable name',
    `${MINIMAL}[variables]\n"" = "x"\n`,
    'job.toml: variables."": expected a variable name of letters, digits and _ that does not start with a digit',
  ],
  ['variable a number', `${MINIMAL}[variables]\nPORT = 8080\n`, `job.toml: variables.PORT: ${EXPECTED_VARIABLE}, got an integer`],
  ['variable an array', `${MINIMAL}[variables]\nLIST = ["a"]\n`, `job.toml: variables.LIST: ${EXPECTED_VARIABLE}, got an array`],
  [
    'a typo in a variable table gets the key it is likely meant to be',
    `${MINIMAL}[variables]\nK = { value = "12345678", maksed = true }\n`,
    'job.toml: variables.K.maksed: unknown key (did you mean masked?): a variable table has only value and masked',
  ],
  ['variable table without value', `${MINIMAL}[variables]\nK = { masked = true }\n`, 'job.toml: variables.K.value: required, a string'],
  ['variable table value not a string', `${MINIMAL}[variables]\nK = { value = 12345678 }\n`, 'job.toml: variables.K.value: expected a string, got an integer'],
  [
    'masked not a boolean',
    `${MINIMAL}[variables]\nK = { value = "12345678", masked = "yes" }\n`,
    'job.toml: variables.K.masked: expected true or false, got the string "yes"',
  ],
  [
    'unknown key in a variable table',
    `${MINIMAL}[variables]\nK = { value = "x", protected = true }\n`,
    'job.toml: variables.K.protected: unknown key: a variable table has only value and masked',
  ],
  [
    'masked value too short',
    `${MINIMAL}[variables]\nK = { value = "1234567", masked = true }\n`,
    'job.toml: variables.K: a masked value must be at least 8 characters long, got a shorter one',
  ],
  ['variable value with NUL', `${MINIMAL}[variables]\nK = "a\\u0000b"\n`, 'job.toml: variables.K: expected a value without NUL characters, got one with'],
];

for (const [what, text, message] of BAD) {
  test(`bad job file: ${what}`, () => assert.equal(jobFileError(text), message));
}

test('a TOML syntax error names file, line and column', () => {
  const message = jobFileError('name = "x"\nscript = ["make"]\ntimeout = \n', '/queue/new/job.toml');
  assert.match(message, /^\/queue\/new\/job\.toml:3:\d+: TOML syntax error: \S/);
  assert.equal(jobFileError('name = "x"\nscript = ["make",\n  "test" "more"]\n'), 'job.toml:3:10: TOML syntax error: expected comma or end of structure');
});

const SECRET = 'hunter2-correct-horse';
const SHORT_SECRET = 's3cr3t';

/** Job files with a secret in them and a mistake somewhere: no message may show the secret. */
const LEAKY: readonly string[] = [
  `${MINIMAL}tags = ["x"]\n[variables]\nAPI_KEY = { value = "${SECRET}", masked = true }\n`,
  `${MINIMAL}timeout = "soon"\n[variables]\nAPI_KEY = { value = "${SECRET}", masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}", masked = "yes" }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}", masked = true, protected = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}", maskd = true }\n`,
  `${MINIMAL}[variables]\n"API-KEY" = { value = "${SECRET}", masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SHORT_SECRET}", masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}\\u0000", masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = ["${SECRET}"], masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = ["${SECRET}"]\n`,
  `${MINIMAL}variables = "${SECRET}"\n`,
  `${MINIMAL}variables = ["${SECRET}"]\n`,
  // Syntax errors on the secret's own line: smol-toml quotes that line after the first line of its message.
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}", masked = true\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}" masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}, masked = true }\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = '${SECRET}', masked = true }}\n`,
  `${MINIMAL}[variables]\nAPI_KEY = { value = "${SECRET}", masked = true }\nAPI_KEY = "again"\n`,
];

test('a masked value never appears in any error message', () => {
  for (const text of LEAKY) {
    const message = jobFileError(text);
    for (const secret of [SECRET, SHORT_SECRET, 'hunter2']) {
      assert.ok(!message.includes(secret), `secret shown in: ${message}`);
    }
  }
});

test('readJobFile reads a file and names it in errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-job-file-'));
  try {
    const good = join(dir, 'good.toml');
    writeFileSync(good, MINIMAL);
    assert.equal(readJobFile(good).name, 'build');
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, 'name = "x"\n');
    assert.throws(() => readJobFile(bad), { name: 'ConfigError', message: `${bad}: script: required, a non-empty ${EXPECTED_COMMANDS}` });
    const missing = join(dir, 'missing.toml');
    assert.throws(() => readJobFile(missing), { name: 'ConfigError', message: `cannot read job file ${missing}: no such file` });
    assert.throws(() => readJobFile(dir), { name: 'ConfigError', message: `cannot read job file ${dir}: is a directory` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const GOOD_DURATIONS: ReadonlyArray<readonly [value: unknown, seconds: number]> = [
  [1, 1],
  [90, 90],
  [MAX_DURATION_SECONDS, 604_800],
  [90n, 90],
  ['1s', 1],
  ['90s', 90],
  ['10m', 600],
  ['2h', 7200],
  ['1h30m', 5400],
  ['1h2m3s', 3723],
  ['2m30s', 150],
  ['1h5s', 3605],
  ['1h0m', 3600],
  ['0h0m1s', 1],
  ['7200s', 7200],
  ['90m', 5400],
  ['007m', 420],
  ['168h', 604_800],
  ['167h59m60s', 604_800],
];

for (const [value, seconds] of GOOD_DURATIONS) {
  test(`duration ${typeof value === 'string' ? JSON.stringify(value) : String(value)} is ${seconds} s`, () => {
    assert.equal(parseDuration(value, 'timeout', 'job.toml'), seconds);
  });
}

const FORMAT = 'expected a whole number of seconds or a duration such as "90s", "10m" or "1h30m" (units h, m, s, each at most once, in that order)';
const RANGE = 'expected a duration from 1 second to 7 days (604800 seconds)';

const BAD_DURATIONS: ReadonlyArray<readonly [value: unknown, expected: string, shown: string]> = [
  [0, RANGE, 'integer 0'],
  [-5, RANGE, 'integer -5'],
  [604_801, RANGE, 'integer 604801'],
  [Number.MAX_SAFE_INTEGER, RANGE, `integer ${Number.MAX_SAFE_INTEGER}`],
  ['0s', RANGE, 'the string "0s"'],
  ['0h0m0s', RANGE, 'the string "0h0m0s"'],
  ['169h', RANGE, 'the string "169h"'],
  ['604801s', RANGE, 'the string "604801s"'],
  ['99999999999999999999999h', RANGE, 'the string "99999999999999999999999h"'],
  [1.5, FORMAT, 'float 1.5'],
  [Number.NaN, FORMAT, 'float NaN'],
  [Number.POSITIVE_INFINITY, FORMAT, 'float Infinity'],
  ['', FORMAT, 'the string ""'],
  ['90', FORMAT, 'the string "90"'],
  ['10 min', FORMAT, 'the string "10 min"'],
  [' 10m', FORMAT, 'the string " 10m"'],
  ['10m ', FORMAT, 'the string "10m "'],
  ['10M', FORMAT, 'the string "10M"'],
  ['1m1h', FORMAT, 'the string "1m1h"'],
  ['1h1h', FORMAT, 'the string "1h1h"'],
  ['30s1m', FORMAT, 'the string "30s1m"'],
  ['1.5h', FORMAT, 'the string "1.5h"'],
  ['-1m', FORMAT, 'the string "-1m"'],
  ['1d', FORMAT, 'the string "1d"'],
  ['1h 30m', FORMAT, 'the string "1h 30m"'],
  ['h', FORMAT, 'the string "h"'],
  ['1ms', FORMAT, 'the string "1ms"'],
  [true, FORMAT, 'boolean true'],
  [null, FORMAT, 'object null'],
  [['10m'], FORMAT, 'an array'],
  [{ value: '10m' }, FORMAT, 'a table'],
  [new Date(0), FORMAT, 'the date 1970-01-01T00:00:00.000Z'],
];

for (const [value, expected, shown] of BAD_DURATIONS) {
  test(`duration ${shown} is refused`, () => {
    assert.throws(() => parseDuration(value, 'runners[0].timeout', 'config.toml'), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.message, `config.toml: runners[0].timeout: ${expected}, got ${shown}`);
      return true;
    });
  });
}

test('10,000 job ids from one process are unique, well-formed and sort in creation order', () => {
  const ids: string[] = [];
  for (let i = 0; i < 10_000; i++) ids.push(newJobId());
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids) assert.match(id, /^[0-9a-z-]+$/);
  assert.ok(ids.every(isJobId));
});

test('job ids from explicit times sort by time, across the counter and the pid', () => {
  const times = [0, 1, 35, 36, 1_000, 1_700_000_000_000, 1_700_000_000_001, 36 ** 9 - 1];
  const ids = times.map((t) => newJobId(t));
  assert.deepEqual([...ids].sort(), ids);
  assert.deepEqual(ids.map(jobIdTime), times);
  // Created in reverse, they still sort by time: the time part comes first and has a fixed width.
  const reversed = [...times].reverse().map((t) => newJobId(t));
  assert.deepEqual([...reversed].sort().map(jobIdTime), times);
  assert.throws(() => newJobId(-1), RangeError);
  assert.throws(() => newJobId(36 ** 9), RangeError);
  assert.throws(() => newJobId(1.5), RangeError);
});

test('a job id has the time, the pid, a counter and random bytes', () => {
  const before = Date.now();
  const id = newJobId();
  const after = Date.now();
  const parts = id.split('-');
  assert.equal(parts.length, 4, id);
  const [time, pidPart, counter, random] = parts as [string, string, string, string];
  assert.match(time, /^[0-9a-z]{9}$/);
  const ms = parseInt(time, 36);
  assert.ok(ms >= before && ms <= after, `${ms} within ${before}..${after}`);
  assert.equal(jobIdTime(id), ms);
  assert.equal(pidPart, pid.toString(36));
  assert.match(counter, /^[0-9a-z]{6}$/);
  assert.match(random, /^[0-9a-f]{10}$/);
  assert.match(id, JOB_ID_PATTERN);
  // Two ids made at the same millisecond differ in the counter and (almost surely) in the random part.
  const [a, b] = [newJobId(1_000), newJobId(1_000)].map((x) => x.split('-'));
  assert.notEqual(a?.[2], b?.[2]);
  assert.notEqual(a?.[3], b?.[3]);
  for (const text of ['', 'job', '0mwrea97y-h22-00002a-9c41e07fd', '0mwrea97y-h22-00002a-9c41e07fd2-x', 'x/../../etc-h22-00002a-9c41e07fd2']) {
    assert.equal(isJobId(text), false, text);
    assert.equal(jobIdTime(text), undefined);
  }
  // Ids from concurrent processes are not tested with real processes here (spawning one inline script
  // the same way on Node, Bun and Deno is awkward): they differ because the pid part differs between
  // processes alive at the same time, and the 40 random bits cover what the pid cannot (containers that
  // are each pid 1 sharing a queue directory, a pid reused within the same millisecond).
});

test('job ids keep their order when the clock steps back', () => {
  const realNow = Date.now;
  try {
    const first = newJobId();
    Date.now = () => realNow() - 3_600_000;
    const second = newJobId();
    assert.ok(first < second, `${first} < ${second}`);
    assert.equal(jobIdTime(second), jobIdTime(first));
  } finally {
    Date.now = realNow;
  }
});

test('repository and ref name a git checkout for get_sources', () => {
  const spec = parseJobFile('name = "x"\nscript = ["make"]\nrepository = "https://example.invalid/group/project.git"\nref = "release/1.2"\n', 'job.toml');
  assert.deepEqual(spec.repository, { url: 'https://example.invalid/group/project.git', ref: 'release/1.2' });
  assert.throws(
    () => parseJobFile('name = "x"\nscript = ["make"]\nref = "main"\n', 'job.toml'),
    /^ConfigError: job\.toml: ref: needs repository$|job\.toml: ref: needs repository/,
  );
  assert.throws(
    () => parseJobFile('name = "x"\nscript = ["make"]\nrepository = "r"\nref = "--upload-pack=x"\n', 'job.toml'),
    /job\.toml: ref: expected a branch, tag or commit name/,
  );
  assert.throws(
    () => parseJobFile('name = "x"\nscript = ["make"]\nrepository = "-oProxyCommand=x"\n', 'job.toml'),
    /job\.toml: repository: expected a git repository URL or path/,
  );
});

test('image and services are read as .gitlab-ci.yml writes them', () => {
  const job = parseJobFile(
    `${MINIMAL}image = { name = "node:22", entrypoint = [""], pull_policy = ["if-not-present"] }\nservices = ["postgres:16", { name = "redis:7", alias = "cache, kv", command = ["redis-server"], variables = { A = "1" } }]\n`,
    'job.toml',
  );
  assert.deepEqual(job.image, { name: 'node:22', aliases: [], entrypoint: [''], command: [], pullPolicies: ['if-not-present'], variables: [] });
  assert.deepEqual(job.services?.map((s) => [s.name, s.aliases, s.command, s.variables]), [
    ['postgres:16', [], [], []],
    ['redis:7', ['cache', 'kv'], ['redis-server'], [{ key: 'A', value: '1', masked: false }]],
  ]);
  assert.throws(
    () => parseJobFile(`${MINIMAL}image = { name = "a", pull_policy = ["sometimes"] }\n`, 'job.toml'),
    /image\.pull_policy: expected always, if-not-present, never, got "sometimes"/,
  );
  assert.throws(() => parseJobFile(`${MINIMAL}services = [{ alias = "db" }]\n`, 'job.toml'), /services\[0\]\.name: expected an image name such as "alpine:3"/);
});
