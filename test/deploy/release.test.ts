// The release artefacts of `npm run package` (docs/install.md), each installed as a user installs
// it and put through the same smoke test (release/smoke.ts). Each runtime's pass checks its own:
// Node the npm package, Node's single executable and the Debian package; Bun its executable;
// Deno the bundle. Without release/ (a partial run that did not package) they are skipped, saying
// so; `npm test` packages first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtime } from '../../src/runtime/runtime.ts';
import { packageRoot } from '../../src/version.ts';
import { releaseFiles } from '../../deploy/package/release-files.ts';
import { runCli } from '../support/runner-process.ts';
import { hasCommand, skipUnless } from '../support/tools.ts';
import { setup, smokeTest } from './release/smoke.ts';

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
  dir = mkdtempSync(join(tmpdir(), 'runner-release-'));
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
  await smokeTest({ command: ['runner'], workDir: workDir('npm'), env }, version);

  // --version and the help texts come from bin/runner.js alone (issue 17): they answer the same with the bundle gone, `run` does not.
  const options = { command: ['runner'] as [string], env };
  const answers = async (): Promise<string[]> => {
    const results = await Promise.all([['--version'], ['--help'], ['run', '--help']].map((args) => runCli(args, options)));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    return results.map((result) => result.stdout);
  };
  const withBundle = await answers();
  const bundle = join(installed, 'lib', 'runner.cjs');
  renameSync(bundle, `${bundle}.away`);
  try {
    assert.deepEqual(await answers(), withBundle);
    const run = await runCli(['run', '--metrics-server', ''], options);
    assert.notEqual(run.code, 0, 'run needs the bundle');
    assert.match(run.stderr, /runner\.cjs/);
  } finally {
    renameSync(`${bundle}.away`, bundle);
  }
});

test('Node single executable passes the smoke test', { skip: onRuntime('node') || skipWithout(files.nodeExecutable) || NO_GO }, async () => {
  const executable = join(workDir('node-bin'), 'runner');
  copyFileSync(files.nodeExecutable, executable);
  statSync(executable);
  await smokeTest({ command: [executable], workDir: workDir('node') }, version);
});

test('Bun executable passes the smoke test', { skip: onRuntime('bun') || skipWithout(files.bunExecutable) || NO_GO }, async () => {
  await smokeTest({ command: [files.bunExecutable], workDir: workDir('bun') }, version);
});

test('Deno bundle, alone in a directory, passes the smoke test under deno run', {
  skip: onRuntime('deno') || skipWithout(files.denoBundle) || NO_GO,
}, async () => {
  // Away from the repository: nothing of node_modules or deno.json may help it.
  const bundle = join(workDir('deno-bin'), 'runner.mjs');
  copyFileSync(files.denoBundle, bundle);
  await smokeTest({ command: [process.execPath, 'run', '-A', bundle], workDir: workDir('deno') }, version);
});

const NOT_ROOT = process.getuid?.() === 0 ? false : 'installing a Debian package needs root';
const NO_DPKG = hasCommand('dpkg', '--version') ? false : 'dpkg not found (not a Debian system)';
const NO_LINTIAN = skipUnless('lintian', 'lintian');

test('Debian package: lintian finds no error', { skip: onRuntime('node') || skipWithout(files.debianPackage) || NO_LINTIAN }, () => {
  // lintian exits non-zero for errors; its output lists every tag with its level.
  const output = setup('sh', ['-c', `lintian --tag-display-limit 0 '${files.debianPackage}' 2>&1; true`]);
  const errors = output.split('\n').filter((line) => line.startsWith('E: '));
  assert.deepEqual(errors, [], output);
});

test('Debian package: installs, runs as its service would, and purges clean', {
  skip: onRuntime('node') || skipWithout(files.debianPackage) || NO_DPKG || NOT_ROOT || NO_GO,
}, async () => {
  setup('dpkg', ['--install', files.debianPackage]);
  try {
    assert.ok(existsSync('/usr/bin/runner'));
    assert.match(setup('getent', ['passwd', 'runner']), /^runner:x:\d+:\d+:[^:]*:\/var\/lib\/runner\/home\/runner:\/usr\/sbin\/nologin$/m);
    assert.equal(statSync('/etc/runner/config.toml').mode & 0o777, 0o600);
    assert.match(readFileSync('/lib/systemd/system/runner.service', 'utf8'), /^ExecStart=\/usr\/bin\/runner run --config \/etc\/runner\/config.toml/m);
    // As the unit starts it: its config (jobs as `runner`) and its working directory.
    await smokeTest({
      command: ['/usr/bin/runner'],
      workDir: '/var/lib/runner',
      commonArgs: ['--config', '/etc/runner/config.toml'],
      jobUser: 'runner',
    }, version);
  } finally {
    setup('dpkg', ['--purge', 'ci-runner-agent']);
  }
  assert.ok(!existsSync('/usr/bin/runner'));
  assert.ok(!existsSync('/etc/runner/config.toml'));
  assert.ok(!existsSync('/var/lib/runner'));
  assert.equal(setup('sh', ['-c', 'getent passwd runner || true']), '', 'purge removed the user');
});
