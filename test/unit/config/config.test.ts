import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closestName, editDistance } from '../../../src/config/did-you-mean.ts';
import { ConfigError, loadConfig, parseConfigText } from '../../../src/config/load.ts';
import { DEFAULT_CONFIG } from '../../../src/config/types.ts';
import { packageRoot } from '../../../src/version.ts';

const FULL = `
concurrent = 4
check_interval = 5
shutdown_timeout = 10
log_level = "debug"
log_format = "json"
metrics_server = "127.0.0.1:9300"

[[runners]]
name = "first"
executor = "shell"
limit = 2
queue_dir = "/var/lib/runner/queue"
builds_dir = "/var/lib/runner/builds"
keep_builds_dir = true
cache_dir = "/var/lib/runner/cache"
output_limit = 8192
shell = "sh"
user = ["ci-1", "ci-2"]
environment = ["GREETING=hello", "EMPTY=", "JOINED=a=b"]
pre_get_sources_script = "echo pre-get"
post_get_sources_script = "echo post-get"
pre_build_script = '''
echo pre
echo build'''
post_build_script = "echo post"
debug_trace_disabled = true
[runners.custom_build_dir]
enabled = true

[[runners]]
name = "second"
`;

test('a full config.toml is read with every key', () => {
  const { config, warnings } = parseConfigText(FULL, 'config.toml');
  assert.deepEqual(warnings, []);
  assert.equal(config.concurrent, 4);
  assert.equal(config.checkInterval, 5);
  assert.equal(config.shutdownTimeout, 10);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.logFormat, 'json');
  assert.deepEqual(config.metricsServer, { host: '127.0.0.1', port: 9300 });
  assert.deepEqual(config.runners, [
    {
      name: 'first',
      executor: 'shell',
      limit: 2,
      queueDir: '/var/lib/runner/queue',
      buildsDir: '/var/lib/runner/builds',
      keepBuildsDir: true,
      cacheDir: '/var/lib/runner/cache',
      outputLimit: 8192,
      url: undefined,
      token: undefined,
      tlsCaFile: undefined,
      requestConcurrency: 1,
      shell: 'sh',
      user: ['ci-1', 'ci-2'],
      // As written: split at the first '=' only when the job's variables are made.
      environment: ['GREETING=hello', 'EMPTY=', 'JOINED=a=b'],
      // TOML drops the newline right after ''' (the script starts with its first command).
      scripts: { preGetSources: 'echo pre-get', postGetSources: 'echo post-get', preBuild: 'echo pre\necho build', postBuild: 'echo post' },
      debugTraceDisabled: true,
      customBuildDir: true,
      docker: undefined,
    },
    {
      name: 'second',
      executor: 'shell',
      limit: 0,
      queueDir: 'queue',
      buildsDir: 'builds',
      keepBuildsDir: false,
      cacheDir: 'cache',
      outputLimit: 4096,
      url: undefined,
      token: undefined,
      tlsCaFile: undefined,
      requestConcurrency: 1,
      // GitLab Runner's defaults: the shell found on the machine, nothing around the jobs, CI_DEBUG_TRACE allowed, no GIT_CLONE_PATH.
      shell: undefined,
      user: [],
      environment: [],
      scripts: { preGetSources: undefined, postGetSources: undefined, preBuild: undefined, postBuild: undefined },
      debugTraceDisabled: false,
      docker: undefined,
      customBuildDir: false,
    },
  ]);
});

test('an empty config.toml gives GitLab Runner defaults', () => {
  const { config } = parseConfigText('', 'config.toml');
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.equal(config.concurrent, 1);
  assert.equal(config.checkInterval, 3);
  assert.equal(config.shutdownTimeout, 30);
  assert.equal(config.metricsServer, undefined);
});

test('listen_address is accepted as the newer name of metrics_server', () => {
  const { config } = parseConfigText('listen_address = ":9252"', 'c.toml');
  assert.deepEqual(config.metricsServer, { host: '', port: 9252 });
  const same = parseConfigText('listen_address = ":9252"\nmetrics_server = ":9252"', 'c.toml');
  assert.deepEqual(same.config.metricsServer, { host: '', port: 9252 });
});

test('metrics_server and listen_address with different values is an error', () => {
  assert.throws(
    () => parseConfigText('listen_address = ":9252"\nmetrics_server = ":9300"', 'c.toml'),
    /c\.toml: metrics_server ":9300" and listen_address ":9252" differ: set only one/,
  );
});

test('an empty metrics_server disables the server', () => {
  assert.equal(parseConfigText('metrics_server = ""', 'c.toml').config.metricsServer, undefined);
});

const BAD: ReadonlyArray<[string, string, RegExp]> = [
  ['concurrent = 0', 'concurrent must be > 0', /c\.toml: concurrent: expected an integer from 1 to 10000, got integer 0/],
  ['concurrent = 1.5', 'concurrent must be an integer', /concurrent: expected an integer from 1 to 10000, got float 1\.5/],
  ['concurrent = "4"', 'concurrent must be a number', /concurrent: expected an integer from 1 to 10000, got the string "4"/],
  ['concurrent = 20000', 'concurrent has a maximum', /concurrent: expected an integer from 1 to 10000, got integer 20000/],
  ['check_interval = -1', 'check_interval >= 0', /check_interval: expected a number of seconds from 0.05 to 86400, got integer -1/],
  ['shutdown_timeout = 3000000', 'shutdown_timeout has a maximum', /shutdown_timeout: expected an integer from 0 to 86400, got integer 3000000/],
  ['log_level = "verbose"', 'log_level choices', /log_level: expected one of debug, info, warn, error, fatal, panic, got the string "verbose"/],
  ['log_format = "xml"', 'log_format choices', /log_format: expected one of text, json, got the string "xml"/],
  ['metric_names = "gitlab"', 'metric_names choices', /metric_names: expected one of ci_runner, gitlab_runner, both, got the string "gitlab"/],
  ['metrics_server = 9252', 'metrics_server type', /metrics_server: expected a string, got integer 9252/],
  ['metrics_server = ":99999"', 'metrics_server value', /metrics_server: invalid metrics server address ":99999": port 99999 is out of range/],
  ['[[runners]]\nexecutor = "shell"', 'runner name required', /runners\[0\]\.name: required/],
  ['[[runners]]\nname = ""', 'runner name non-empty', /runners\[0\]\.name: required/],
  ['[[runners]]\nname = "a"\n[[runners]]\nname = "a"', 'unique names', /runners\[1\]\.name: "a" is already used/],
  [
    '[[runners]]\nname = "a"\nexecutor = "kubernetes"',
    'executor choices',
    /runners\[0\]\.executor: expected one of shell, docker, got the string "kubernetes"/,
  ],
  [
    '[[runners]]\nname = "a"\nexecutor = "docker"\n[runners.docker]\nmemory = "lots"',
    'docker memory',
    /runners\[0\]\.docker\.memory: expected a size of at least 6m such as "512m" or "2g", got "lots"/,
  ],
  [
    '[[runners]]\nname = "a"\nexecutor = "docker"\n[runners.docker]\ncpus = "-1"',
    'docker cpus',
    /runners\[0\]\.docker\.cpus: expected a number of CPUs such as "1.5", got "-1"/,
  ],
  [
    '[[runners]]\nname = "a"\nexecutor = "docker"\n[runners.docker]\npull_policy = "sometimes"',
    'docker pull policy',
    /runners\[0\]\.docker\.pull_policy: expected always, if-not-present, never \(or a list of them\), got "sometimes"/,
  ],
  [
    '[[runners]]\nname = "a"\nexecutor = "docker"\n[runners.docker]\nvolumes = ["relative:path"]',
    'docker volumes',
    /runners\[0\]\.docker\.volumes\[0\]: expected "\/host\/path:\/container\/path\[:ro\]" or "\/container\/path", got "relative:path"/,
  ],
  [
    '[[runners]]\nname = "a"\nexecutor = "docker"\n[runners.docker]\nhost = "docker.example:2375"',
    'docker host',
    /runners\[0\]\.docker\.host: expected unix:\/\/\/path\/to\/docker\.sock or tcp:\/\/host:port, got "docker\.example:2375"/,
  ],
  [
    '[[runners]]\nname = "a"\nexecutor = "docker"\n[[runners.docker.services]]\nalias = "db"',
    'docker service name',
    /runners\[0\]\.docker\.services\[0\]\.name: required, the image of the service/,
  ],
  ['[[runners]]\nname = "a"\nlimit = -2', 'limit >= 0', /runners\[0\]\.limit: expected an integer from 0 to 10000, got integer -2/],
  ['runners = "x"', 'runners must be tables', /runners: expected an array of tables/],
  ['[[runners]]\nname = "a"\nqueue_dir = ""', 'queue_dir non-empty', /runners\[0\]\.queue_dir: expected a non-empty path, got the string ""/],
  ['[[runners]]\nname = "a"\noutput_limit = -1', 'output_limit >= 0', /runners\[0\]\.output_limit: expected an integer from 0 to 1048576, got integer -1/],
  ['pprof = "yes"', 'pprof is a boolean', /pprof: expected true or false, got the string "yes"/],
  ['pprof_max_seconds = 0', 'pprof_max_seconds > 0', /pprof_max_seconds: expected an integer from 1 to 3600, got integer 0/],
  [`[[runners]]\nname = "${'x'.repeat(200)}"`, 'runner name length', /runners\[0\]\.name: expected at most 128 printable characters/],
];

for (const [text, what, message] of BAD) {
  test(`config error names the key: ${what}`, () => {
    assert.throws(() => parseConfigText(text, 'c.toml'), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    });
  });
}

test('a TOML syntax error reports file, line and column', () => {
  assert.throws(() => parseConfigText('concurrent = 2\nlog_level = \n', '/etc/runner/config.toml'), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^\/etc\/runner\/config\.toml:2:\d+: TOML syntax error: /);
    assert.ok(!error.message.includes('\n'));
    return true;
  });
});

test('without [[runners]] there is one local runner; runners = [] means none', () => {
  assert.deepEqual(parseConfigText('', 'c.toml').config.runners.map((r) => r.name), ['local']);
  assert.deepEqual(parseConfigText('runners = []', 'c.toml').config.runners, []);
  assert.equal(parseConfigText('[[runners]]\nname = "a"\noutput_limit = 0', 'c.toml').config.runners[0]?.outputLimit, 4096);
});

test('check_interval = 0 and shutdown_timeout = 0 mean the defaults, as in GitLab Runner', () => {
  const { config } = parseConfigText('check_interval = 0\nshutdown_timeout = 0', 'c.toml');
  assert.equal(config.checkInterval, 3);
  assert.equal(config.shutdownTimeout, 30);
});

test('an unknown key with odd characters is quoted in its warning', () => {
  const { warnings } = parseConfigText('"evil\\n2026-01-01 ERROR fake" = 1', 'c.toml');
  assert.deepEqual(warnings, ['c.toml: unknown key "evil\\n2026-01-01 ERROR fake" (ignored)']);
});

test('unknown keys are warnings naming the key, not errors, with the closest known key when one is close', () => {
  const { config, warnings } = parseConfigText('concurent = 3\nfrobnicate = 1\n[[runners]]\nname = "a"\ntokn = "x"\nexcutor = "shell"', 'c.toml');
  assert.equal(config.concurrent, 1);
  assert.deepEqual(warnings, [
    'c.toml: unknown key concurent (ignored; did you mean concurrent?)',
    'c.toml: unknown key frobnicate (ignored)',
    'c.toml: unknown key runners[0].tokn (ignored; did you mean runners[0].token?)',
    'c.toml: unknown key runners[0].excutor (ignored; did you mean runners[0].executor?)',
  ]);
});

test('did-you-mean: a swap of two letters is one edit; a far or ambiguous name gets no suggestion', () => {
  assert.equal(editDistance('lsiten_address', 'listen_address'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(closestName('lsiten_address', ['listen_address', 'metrics_server']), 'listen_address');
  assert.equal(closestName('log', ['log_level', 'log_format']), undefined);
  assert.equal(closestName('ab', ['ac', 'ad']), undefined, 'two equally close names: no guess');
});

test('without --config, ./config.toml is read when present, else the defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-config-'));
  try {
    const none = loadConfig(undefined, dir);
    assert.equal(none.path, undefined);
    assert.deepEqual(none.config, DEFAULT_CONFIG);
    writeFileSync(join(dir, 'config.toml'), 'concurrent = 7\n');
    const found = loadConfig(undefined, dir);
    assert.equal(found.path, join(dir, 'config.toml'));
    assert.equal(found.config.concurrent, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an explicit config file that does not exist is an error naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-config-'));
  try {
    assert.throws(() => loadConfig('missing.toml', dir), new RegExp(`cannot read config file ${join(dir, 'missing.toml')}: no such file`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config.toml.example is valid, warns about nothing and documents every key with a comment', () => {
  const example = loadConfig(join(packageRoot(), 'config.toml.example'), '/');
  assert.deepEqual(example.warnings, []);
  const lines = readFileSync(example.path!, 'utf8').split('\n');
  for (
    const key of [
      'concurrent',
      'check_interval',
      'shutdown_timeout',
      'log_level',
      'log_format',
      'metrics_server',
      'pprof',
      'pprof_max_seconds',
      'metric_names',
      'name',
      'executor',
      'limit',
      'queue_dir',
      'builds_dir',
      'keep_builds_dir',
      'cache_dir',
      'output_limit',
      'environment',
      'debug_trace_disabled',
      'custom_build_dir',
    ]
  ) {
    const at = lines.findIndex((line) => new RegExp(`^\\s*${key}\\s*=`).test(line));
    assert.ok(at > 0, `${key} is set in the example`);
    assert.match(lines[at - 1]!, /^\s*#/, `a comment right above ${key}`);
  }
  assert.ok(lines.some((line) => /^\s*#.*\blisten_address\b/.test(line)), 'listen_address is explained');
  assert.ok(lines.some((line) => /^\s*#.*\[\[runners\]\]/.test(line)), '[[runners]] is explained');
  // Keys whose every value changes what jobs do are shown commented out, so the example runs jobs as the defaults do.
  for (const key of ['shell', 'pre_get_sources_script', 'post_get_sources_script', 'pre_build_script', 'post_build_script']) {
    assert.ok(lines.some((line) => new RegExp(`^#\\s*${key} = `).test(line)), `${key} is shown commented out in the example`);
  }
});

test('a runner with url and token is served by a coordinator; fractional check_interval', () => {
  const { config, warnings } = parseConfigText(
    `check_interval = 0.5
[[runners]]
name = "gitlab"
url = "https://gitlab.example.com/"
token = "glrt-abcdefghijklmnopqrst"
tls-ca-file = "/etc/ssl/private-ca.pem"
request_concurrency = 3
`,
    'c.toml',
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.checkInterval, 0.5);
  const [runner] = config.runners;
  assert.equal(runner?.url, 'https://gitlab.example.com');
  assert.equal(runner?.token, 'glrt-abcdefghijklmnopqrst');
  assert.equal(runner?.tlsCaFile, '/etc/ssl/private-ca.pem');
  assert.equal(runner?.requestConcurrency, 3);
});

test('coordinator settings are checked, and a token or password is never echoed in the error', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'url = "ftp://x"\ntoken = "t"',
      /^c\.toml: runners\[0\]\.url: expected an http:\/\/ or https:\/\/ URL such as "https:\/\/gitlab\.example\.com\/", got the string "ftp:\/\/x"$/,
    ],
    ['url = "https://user:hunter2-secret@gitlab.example.com"\ntoken = "t"', /^c\.toml: runners\[0\]\.url: must not hold credentials/],
    ['url = "nope://user:hunter2-secret@x y"\ntoken = "t"', /got the string "nope:\/\/\*\*\*@x y"$/],
    ['url = "https://gitlab.example.com"', /^c\.toml: runners\[0\]\.token: required with url/],
    [
      'url = "https://gitlab.example.com"\ntoken = "has space-hunter2-secret"',
      /^c\.toml: runners\[0\]\.token: required with url, the runner's authentication token \(a non-empty string without spaces\)$/,
    ],
    ['token = "hunter2-secret"', /^c\.toml: runners\[0\]\.token: needs url/],
    ['url = "http://gitlab.example.com"\ntoken = "t"\ntls-ca-file = "ca.pem"', /tls-ca-file: only meaningful with an https:\/\/ url/],
    ['url = "http://gitlab.example.com"\ntoken = "t"\nrequest_concurrency = 0', /request_concurrency: expected an integer from 1 to 100, got integer 0/],
  ];
  for (const [lines, expected] of cases) {
    const error = (() => {
      try {
        parseConfigText(`[[runners]]\nname = "r"\n${lines}\n`, 'c.toml');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError, lines);
    assert.match(error.message, expected);
    assert.ok(!error.message.includes('hunter2'), error.message);
    assert.ok(!error.message.includes('\n'), error.message);
  }
});

test("[runners.docker] is read with GitLab Runner's units and defaults; unknown keys are warned of by name", () => {
  const { config, warnings } = parseConfigText(
    [
      '[[runners]]',
      'name = "d"',
      'executor = "docker"',
      '[runners.docker]',
      'image = "alpine:3"',
      'pull_policy = "if-not-present"',
      'memory = "1.5g"',
      'cpus = "0.5"',
      'volumes = ["/srv/data:/data:ro", "/scratch"]',
      'wait_for_services_timeout = 0',
      'cap_add = ["NET_ADMIN"]',
      '[[runners.docker.services]]',
      'name = "postgres:16"',
      'alias = "db, database"',
      'environment = ["POSTGRES_PASSWORD=x"]',
    ].join('\n'),
    'config.toml',
  );
  const docker = config.runners[0]!.docker!;
  assert.equal(docker.image, 'alpine:3');
  assert.deepEqual(docker.pullPolicy, ['if-not-present']);
  assert.equal(docker.memoryBytes, 1.5 * 1024 ** 3);
  assert.equal(docker.nanoCpus, 500_000_000);
  assert.deepEqual(docker.volumes, ['/srv/data:/data:ro', '/scratch']);
  assert.equal(docker.waitForServicesTimeout, 30, '0 means the default');
  assert.equal(docker.privileged, false);
  assert.deepEqual(docker.services, [{
    name: 'postgres:16',
    alias: 'db, database',
    entrypoint: undefined,
    command: undefined,
    environment: ['POSTGRES_PASSWORD=x'],
  }]);
  assert.deepEqual(warnings, ['config.toml: unknown key runners[0].docker.cap_add (ignored)']);
});

test('[runners.docker] under another executor is warned of: it would be ignored', () => {
  const { warnings } = parseConfigText('[[runners]]\nname = "s"\n[runners.docker]\nimage = "alpine"', 'config.toml');
  assert.deepEqual(warnings, ['config.toml: runners[0].docker: only read by executor = "docker" (this runner\'s executor is "shell")']);
});
