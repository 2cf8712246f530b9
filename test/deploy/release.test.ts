// The release artefacts of `npm run package` (docs/install.md), each installed as a user installs
// it and put through the same smoke test (release/smoke.ts). Each runtime's pass checks its own:
// Node the npm package, Node's single executable and the Debian package; Bun its executable;
// Deno the bundle. Without release/ (a partial run that did not package) they are skipped, saying
// so; `npm test` packages first. The Node artefacts' profiles and error stacks name their scripts
// as installed or by their names in the package (wrapped-bundle.ts, SCRIPT_NAMES), never by a file
// of the build.
import { after, before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runtime } from '../../src/runtime/runtime.ts';
import { packageRoot } from '../../src/version.ts';
import { DENO_FILES, releaseFiles } from '../../deploy/package/release-files.ts';
import { dynamicImportSpecifiers } from '../../deploy/package/deferred-imports.ts';
import { PACKAGED_QUEUE_DIR, packagedUnit } from '../../deploy/package/debian-package.ts';
import { SYSTEM_ID_FILE } from '../../src/config/system-id.ts';
import { PROCESS_RECORDS_DIR } from '../../src/cli/process-records.ts';
import { SCRIPT_NAMES } from '../../deploy/package/wrapped-bundle.ts';
import { runCli } from '../support/runner-process.ts';
import { hasCommand, skipUnless } from '../support/tools.ts';
import { BUILD_DIRECTORY, setup, smokeTest } from './release/smoke.ts';

const root = packageRoot();
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const files = releaseFiles(root, version);

function skipWithout(path: string): false | string {
  if (existsSync(path)) return false;
  const reason = `${path} not built (npm run package)`;
  process.stderr.write(`SKIP: ${reason}\n`);
  return reason;
}

const onRuntime = (name: string): false | string => (runtime.name === name ? false : `checked in the ${name} pass`);
const NO_GO = skipUnless('go', 'golang-go', 'version');

let dir: string;
before(() => {
  // Not named like the build's directory (BUILD_DIRECTORY), which no artefact may name.
  dir = mkdtempSync(join(tmpdir(), 'runner-installed-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function workDir(name: string): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  return path;
}

test('npm package: installs with npm alone, no dependencies, `runner` on PATH passes the smoke test', {
  skip: onRuntime('node') || skipWithout(files.npmTarball) || NO_GO,
}, async () => {
  const prefix = join(dir, 'npm-prefix');
  setup('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', files.npmTarball]);
  const installed = join(prefix, 'lib', 'node_modules', 'ci-runner-agent');
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest['dependencies'], undefined, 'the bundle holds every dependency');
  assert.equal(manifest['scripts'], undefined, 'nothing runs at install');
  assert.ok(!existsSync(join(installed, 'node_modules')), 'npm installed no dependency');
  assert.ok(statSync(join(installed, 'lib', 'runner.cjs.cache')).size > 0, 'the V8 code cache is in the package');
  const bin = join(prefix, 'bin');
  assert.deepEqual(readdirSync(bin), ['runner']);
  const env = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
  const binScript = realpathSync(join(installed, 'bin', 'runner.js'));
  await smokeTest({ command: ['runner'], workDir: workDir('npm'), env, scriptNames: [SCRIPT_NAMES.bundle, binScript] }, version);

  // --version and the help texts come from bin/runner.js alone (issue 17).
  const options = { command: ['runner'] as [string], env };
  const bundle = join(installed, 'lib', 'runner.cjs');
  await answersWithout(bundle, options, /runner\.cjs/);

  // V8 takes the code cache of the package's training run (RUNNER_DEBUG names a refused one), and says so when it does not.
  // With the cache, Node 20 names the bundle as the cache was made; without, as installed.
  const cache = `${bundle}.cache`;
  assert.doesNotMatch((await loadOnly(options)).stderr, CACHE_REFUSED);
  assert.equal(await bundleNameInStack(options), SCRIPT_NAMES.bundle);
  renameSync(cache, `${cache}.away`);
  try {
    writeFileSync(cache, readFileSync(`${cache}.away`).subarray(0, 4096));
    assert.match((await loadOnly(options)).stderr, CACHE_REFUSED);
    assert.equal(await bundleNameInStack(options), realpathSync(bundle));
  } finally {
    renameSync(`${cache}.away`, cache);
  }
});

/**
 * `--version` and the help texts of an artefact answer the same with `bundle` (the runner's) gone,
 * and `run` fails naming it: they come from the artefact's small entry alone. Returns the answers.
 */
async function answersWithout(bundle: string, options: { command: [string, ...string[]]; env?: Record<string, string> }, named: RegExp): Promise<string[]> {
  const answers = async (): Promise<string[]> => {
    const results = await Promise.all([['--version'], ['--help'], ['run', '--help']].map((args) => runCli(args, options)));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    return results.map((result) => result.stdout);
  };
  const withBundle = await answers();
  renameSync(bundle, `${bundle}.away`);
  try {
    assert.deepEqual(await answers(), withBundle);
    const run = await runCli(['run', '--metrics-server', ''], options);
    assert.notEqual(run.code, 0, 'run needs the bundle');
    assert.match(run.stderr, named);
  } finally {
    renameSync(`${bundle}.away`, bundle);
  }
  return withBundle;
}

const CACHE_REFUSED = /V8 refused the code cache/;

/** A command that loads the runner's bundle and exits at once (a config file that is not there), with RUNNER_DEBUG set. */
async function loadOnly(options: { command: [string, ...string[]]; env?: Record<string, string> }): Promise<{ stderr: string }> {
  const result = await runCli(['verify', '--config', '/nonexistent/config.toml'], { ...options, env: { ...options.env, RUNNER_DEBUG: '1' } });
  assert.equal(result.code, 2, result.stderr);
  return result;
}

/** Preloaded by bundleNameInStack: prints the frame the runner's "cannot read config file" error is written from. */
const STACK_HOOK = `const write = process.stderr.write;
process.stderr.write = function (chunk, ...rest) {
  if (String(chunk).startsWith('runner: cannot read config file')) write.call(this, 'written from:' + new Error().stack.split('\\n')[2] + '\\n');
  return write.call(this, chunk, ...rest);
};
`;

/**
 * The file name an error stack gives the bundle's code: the runner prints no stack for an error
 * it knows, and none it does not know can be caused from outside, so a script preloaded through
 * NODE_OPTIONS (which Node's single executable honours too) reports where loadOnly's error is
 * written from - a function of the bundle.
 */
async function bundleNameInStack(options: { command: [string, ...string[]]; env?: Record<string, string> }): Promise<string> {
  const hook = join(dir, 'stack-hook.cjs');
  writeFileSync(hook, STACK_HOOK);
  const nodeOptions = `${process.env['NODE_OPTIONS'] ?? ''} --require ${hook}`.trim();
  const { stderr } = await loadOnly({ ...options, env: { ...options.env, NODE_OPTIONS: nodeOptions } });
  assert.doesNotMatch(stderr, BUILD_DIRECTORY);
  const frame = /^written from:\s+at (?:.* \()?(\S+?):\d+:\d+\)?$/m.exec(stderr);
  assert.ok(frame?.[1], `no frame of the bundle in:\n${stderr}`);
  return frame[1];
}

/** The names of the Node single executable's scripts: the bundle's, its main script's. */
const NODE_EXECUTABLE_SCRIPTS = [SCRIPT_NAMES.bundle, SCRIPT_NAMES.seaMain] as const;

test('Node single executable passes the smoke test', { skip: onRuntime('node') || skipWithout(files.nodeExecutable) || NO_GO }, async () => {
  const executable = join(workDir('node-bin'), 'runner');
  copyFileSync(files.nodeExecutable, executable);
  statSync(executable);
  await smokeTest({ command: [executable], workDir: workDir('node'), scriptNames: NODE_EXECUTABLE_SCRIPTS }, version);
  // It carries the npm package's bundle and code cache, which V8 takes here too, with its name.
  assert.doesNotMatch((await loadOnly({ command: [executable] })).stderr, CACHE_REFUSED);
  assert.equal(await bundleNameInStack({ command: [executable] }), SCRIPT_NAMES.bundle);
});

test('Bun executable passes the smoke test', { skip: onRuntime('bun') || skipWithout(files.bunExecutable) || NO_GO }, async () => {
  await smokeTest({ command: [files.bunExecutable], workDir: workDir('bun') }, version);
});

test('Deno bundle, its directory alone, passes the smoke test under deno run', {
  skip: onRuntime('deno') || skipWithout(files.denoDir) || NO_GO,
}, async () => {
  // Away from the repository: nothing of node_modules or deno.json may help it.
  const installed = workDir('deno-bin');
  cpSync(files.denoDir, installed, { recursive: true });
  assert.ok(statSync(join(installed, DENO_FILES.chunks)).isDirectory(), 'the bundle comes with its chunks');
  // Deno checks no module named through an expression before it is imported: each must be there.
  const modules = [DENO_FILES.entry, DENO_FILES.main, ...readdirSync(join(installed, DENO_FILES.chunks)).map((name) => join(DENO_FILES.chunks, name))];
  for (const module of modules) {
    const source = readFileSync(join(installed, module), 'utf8');
    assert.doesNotMatch(source, /\bimport\(\s*["'`]\./, `${module} names a module of its own by a literal, which Deno would read at start`);
    for (const specifier of dynamicImportSpecifiers(source)) {
      assert.ok(existsSync(join(installed, dirname(module), specifier)), `${module} imports ${specifier}, which is not in the artefact`);
    }
  }
  assert.ok(dynamicImportSpecifiers(readFileSync(join(installed, DENO_FILES.main), 'utf8')).length > 0, 'main.mjs imports its lazy parts');
  const entry = join(installed, DENO_FILES.entry);
  await smokeTest({ command: [process.execPath, 'run', '-A', entry], workDir: workDir('deno') }, version);

  // --version and the help texts come from the small entry alone (issue 17).
  const main = join(installed, DENO_FILES.main);
  const [versionText] = await answersWithout(main, { command: [process.execPath, 'run', '-A', entry] }, /main\.mjs/);
  // The entry names the runtime and platform from Deno's globals: as the runner itself does from Node's process.
  const runner = await runCli(['--version'], { command: [process.execPath, 'run', '-A', main] });
  assert.equal(versionText, runner.stdout, runner.stderr);
});

const NOT_ROOT = process.getuid?.() === 0 ? false : 'installing a Debian package needs root';
const NO_DPKG = hasCommand('dpkg', '--version') ? false : 'dpkg not found (not a Debian system)';
const NO_LINTIAN = skipUnless('lintian', 'lintian');
const NO_SYSTEMD_ANALYZE = hasCommand('systemd-analyze', '--version') ? false : 'systemd-analyze not found';

test('Debian package: lintian finds no error', { skip: onRuntime('node') || skipWithout(files.debianPackage) || NO_LINTIAN }, () => {
  // lintian exits non-zero for errors; its output lists every tag with its level.
  const output = setup('sh', ['-c', `lintian --tag-display-limit 0 '${files.debianPackage}' 2>&1; true`]);
  const errors = output.split('\n').filter((line) => line.startsWith('E: '));
  assert.deepEqual(errors, [], output);
});

/**
 * Where the service of `unit` may write under its ProtectSystem=strict: the directories of its StateDirectory= and
 * related settings, which systemd mounts read-write whatever ProtectSystem= says (systemd.exec(5); `:ro` makes one
 * read-only), and its ReadWritePaths=.
 */
function writableUnder(unit: string): string[] {
  assert.match(unit, /^ProtectSystem=strict$/m);
  const values = (key: string): string[] =>
    [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((match) => (match[1] ?? '').trim().split(/\s+/)).filter((value) => value !== '');
  const managed = Object.entries(UNIT_DIRECTORIES).flatMap(([key, base]) =>
    values(key).filter((value) => !value.endsWith(':ro')).map((value) => join(base, value.split(':')[0] ?? ''))
  );
  return [...managed, ...values('ReadWritePaths').map((value) => value.replace(/^[-+]+/, ''))];
}

const UNIT_DIRECTORIES = {
  RuntimeDirectory: '/run',
  StateDirectory: '/var/lib',
  CacheDirectory: '/var/cache',
  LogsDirectory: '/var/log',
  ConfigurationDirectory: '/etc',
};

test('systemd unit, as deploy/systemd has it and as the Debian package installs it: the runner may write its working directory and its state beside config.toml', () => {
  const source = readFileSync(join(root, 'deploy', 'systemd', 'runner.service'), 'utf8');
  for (
    const [name, unit, queue] of [['deploy/systemd/runner.service', source, undefined], [
      "the Debian package's unit",
      packagedUnit(source),
      PACKAGED_QUEUE_DIR,
    ]] as const
  ) {
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    const config = /--config (\S+)/.exec(execStart)?.[1];
    const workingDirectory = /--working-directory (\S+)/.exec(execStart)?.[1];
    assert.ok(config !== undefined && workingDirectory !== undefined, `${name} starts the runner with --config and --working-directory: ${execStart}`);
    const writable = writableUnder(unit);
    const isWritable = (path: string): boolean => writable.some((dir) => path === dir || path.startsWith(`${dir}/`));
    for (const path of [workingDirectory, join(dirname(config), SYSTEM_ID_FILE), join(dirname(config), PROCESS_RECORDS_DIR)]) {
      assert.ok(isWritable(path), `${name} leaves ${path} read-only (writable: ${writable.join(' ')})`);
    }
    // The packaged config's queue_dir is absolute (for `runner submit` from anywhere): the service's.
    if (queue !== undefined) assert.ok(queue.startsWith(`${workingDirectory}/`), `${queue} is not under ${workingDirectory}`);
  }
});

test('Debian package: installs, runs as its service would, and purges clean', {
  skip: onRuntime('node') || skipWithout(files.debianPackage) || NO_DPKG || NOT_ROOT || NO_GO,
}, async () => {
  setup('dpkg', ['--install', files.debianPackage]);
  let purge: { status: number | null; stdout: string; stderr: string } | undefined;
  try {
    assert.ok(existsSync('/usr/bin/runner'));
    assert.match(setup('getent', ['passwd', 'runner']), /^runner:x:\d+:\d+:[^:]*:\/var\/lib\/runner\/home\/runner:\/usr\/sbin\/nologin$/m);
    assert.equal(statSync('/etc/runner/config.toml').mode & 0o777, 0o600);
    assert.match(readFileSync('/lib/systemd/system/runner.service', 'utf8'), /^ExecStart=\/usr\/bin\/runner run --config \/etc\/runner\/config.toml/m);
    if (!NO_SYSTEMD_ANALYZE) {
      const verify = spawnSync('systemd-analyze', ['verify', '/lib/systemd/system/runner.service'], { encoding: 'utf8' });
      assert.equal(`${verify.stdout}${verify.stderr}`.trim(), '', 'systemd-analyze verify finds nothing to say about the installed unit');
      assert.equal(verify.status, 0);
    }
    // As the unit starts it: its config (jobs as `runner`) and its working directory. A job is submitted as
    // docs/install.md says, from anywhere with the config alone: its queue_dir is the service's.
    await smokeTest({
      command: ['/usr/bin/runner'],
      workDir: '/var/lib/runner',
      commonArgs: ['--config', '/etc/runner/config.toml'],
      jobUser: 'runner',
      submit: { args: ['--config', '/etc/runner/config.toml'], cwd: workDir('deb-submit') },
      scriptNames: NODE_EXECUTABLE_SCRIPTS,
    }, version);
    // The runner keeps its state beside config.toml, as GitLab Runner does: purge must take it too.
    assert.ok(existsSync(join('/etc/runner', SYSTEM_ID_FILE)), 'the runner saved its system ID');
    assert.ok(existsSync(join('/etc/runner', PROCESS_RECORDS_DIR)), 'the runner kept its process records');
  } finally {
    purge = spawnSync('dpkg', ['--purge', 'ci-runner-agent'], { encoding: 'utf8' });
  }
  assert.equal(purge.status, 0, `${purge.stdout}${purge.stderr}`);
  // Neither "directory '/etc/runner' not empty so not removed" nor deluser's word on a crontab there is none of.
  assert.equal(purge.stderr, '', 'dpkg --purge says nothing on stderr');
  assert.ok(!existsSync('/usr/bin/runner'));
  assert.ok(!existsSync('/etc/runner'), 'purge removed /etc/runner with the state the runner kept there');
  assert.ok(!existsSync('/var/lib/runner'));
  assert.equal(setup('sh', ['-c', 'getent passwd runner || true']), '', 'purge removed the user');
});
