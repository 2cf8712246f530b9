// A pipeline of local jobs through the real CLI: `build` keeps artifacts and
// a cache, `test` needs it by name (and waits for it), `deploy` by id; the
// files arrive byte for byte, `runner submit --wait` says where the
// artifacts are, and a need that names no successful job fails the job
// before it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readResult } from '../../src/sources/local/queue.ts';
import { runCli, startRunner } from '../support/runner-process.ts';

const unzipSkip = spawnSync('unzip', ['-v']).status === 0 ? false : 'unzip not installed (Debian package unzip); .ci/run installs it';

/** The job log with its colours and line-clearing codes taken out. */
// deno-lint-ignore no-control-regex -- the log's colour codes are what is taken out
const plainLog = (text: string): string[] => text.replace(/\x1b\[[0-9;]*[mK]/g, '').split('\n').map((line) => line.trimEnd());

test(
  'build -> test -> deploy as local jobs: artifacts and cache pass between them; submit --wait says where the artifacts are',
  { skip: unzipSkip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-local-artifacts-'));
    writeFileSync(join(dir, 'config.toml'), 'check_interval = 0.2\nconcurrent = 2\n[[runners]]\nname = "local"\ncache_dir = "cache"\n');
    const runner = await startRunner([], { cwd: dir, env: { HOME: dir } });
    try {
      writeFileSync(
        join(dir, 'build.toml'),
        [
          'name = "build"',
          `script = ["mkdir -p dist .deps", "head -c 100000 /dev/urandom > dist/app.bin", "sha256sum dist/app.bin > dist/app.sum", "echo map > dist/app.map", "echo dep > .deps/lib"]`,
          'artifacts = { paths = ["dist/"], exclude = ["dist/*.map"], expire_in = "1 week" }',
          'cache = { key = "deps", paths = [".deps/"] }',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'test.toml'),
        [
          'name = "test"',
          'script = ["sha256sum -c dist/app.sum", "test ! -e dist/app.map", "cat .deps/lib"]',
          'needs = ["build"]',
          'cache = { key = "deps", paths = [".deps/"], policy = "pull" }',
        ]
          .join('\n'),
      );
      // Both at once: `test` waits, pending, for `build` to end.
      const submitted = await runCli(['submit', '--wait', 'build.toml', 'test.toml'], { cwd: dir });
      assert.equal(submitted.code, 0, submitted.stderr);
      const [buildId, testId] = submitted.stdout.trim().split('\n');
      const where = submitted.stderr.split('\n').find((line) => line.startsWith(`job ${buildId} build: success`))!;
      assert.match(where, /; artifacts: \S+\.artifacts\.zip \(expires \d{4}-/, submitted.stderr);
      const archive = join(dir, 'queue', 'done', `${buildId}.artifacts.zip`);
      assert.ok(existsSync(archive));
      const listing = spawnSync('unzip', ['-Z1', archive], { encoding: 'utf8' }).stdout.trim().split('\n');
      assert.deepEqual(listing, ['dist/', 'dist/app.bin', 'dist/app.sum']);
      assert.equal(spawnSync('unzip', ['-t', '-q', archive]).status, 0);

      const testLog = plainLog(readFileSync(join(dir, 'queue', 'done', `${testId}.log`), 'utf8'));
      assert.ok(testLog.includes(`Downloading artifacts for build (${buildId})...`), testLog.join('\n'));
      assert.ok(testLog.includes('dist/app.bin: OK'), testLog.join('\n'));
      assert.ok(testLog.includes('Successfully extracted cache'), testLog.join('\n'));
      assert.ok(testLog.includes('dep'));
      assert.equal((await readResult(join(dir, 'queue'), testId!))?.state, 'success');

      writeFileSync(join(dir, 'deploy.toml'), `name = "deploy"\nscript = ["cat dist/app.sum"]\nneeds = ["${buildId}"]\n`);
      writeFileSync(join(dir, 'orphan.toml'), 'name = "orphan"\nscript = ["echo never"]\nneeds = ["package"]\n');
      const later = await runCli(['submit', '--wait', 'deploy.toml', 'orphan.toml'], { cwd: dir });
      assert.equal(later.code, 1, later.stderr);
      const [deployId, orphanId] = later.stdout.trim().split('\n');
      assert.equal((await readResult(join(dir, 'queue'), deployId!))?.state, 'success');
      const orphan = await readResult(join(dir, 'queue'), orphanId!);
      assert.equal(orphan?.state, 'failed');
      assert.equal(orphan?.failure_reason, 'missing_dependency_failure');
      assert.ok(!readFileSync(join(dir, 'queue', 'done', `${orphanId}.log`), 'utf8').includes('never\n'));
    } finally {
      await runner.stop('SIGTERM', 5_000);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
