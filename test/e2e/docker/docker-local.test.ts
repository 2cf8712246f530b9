// The docker executor for local jobs: job files name an image and services as
// .gitlab-ci.yml does; artifacts made in one container reach the next job's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readResult } from '../../../src/sources/local/queue.ts';
import { dockerAvailable, testDockerHost } from '../../support/docker.ts';
import { runCli, startRunner } from '../../support/runner-process.ts';

const skip = await dockerAvailable(['runner-test/sh:1', 'runner-test/bash:1', 'runner-test/kv:1']);
// deno-lint-ignore no-control-regex -- ANSI escapes are what this removes
const plainLog = (text: string): string[] => text.replace(/\x1b\[[0-9;]*[mK]/g, '').split('\n').map((line) => line.trimEnd());

test('local jobs with image and services run in containers; artifacts pass between them', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-docker-local-'));
  writeFileSync(
    join(dir, 'config.toml'),
    [
      'check_interval = 0.2',
      '[[runners]]',
      'name = "local"',
      'executor = "docker"',
      '[runners.docker]',
      `host = "${testDockerHost()}"`,
      'image = "runner-test/sh:1"',
      'pull_policy = "if-not-present"',
      '',
    ].join('\n'),
  );
  const runner = await startRunner([], { cwd: dir, env: { HOME: dir } });
  try {
    writeFileSync(
      join(dir, 'build.toml'),
      [
        'name = "build"',
        'image = "runner-test/bash:1"',
        'script = ["mkdir -p out", "echo \\"built with bash $BASH_VERSION\\" > out/made.txt"]',
        'artifacts = { paths = ["out/"] }',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'test.toml'),
      [
        'name = "test"',
        'services = [{ name = "runner-test/kv:1", alias = "store" }]',
        'script = ["cat out/made.txt", "printf \\"PING\\\\nQUIT\\\\n\\" | nc store 6379"]',
        'needs = ["build"]',
      ].join('\n'),
    );
    const submitted = await runCli(['submit', '--wait', 'build.toml', 'test.toml'], { cwd: dir });
    assert.equal(submitted.code, 0, submitted.stderr);
    const [buildId, testId] = submitted.stdout.trim().split('\n');
    const buildLog = plainLog(readFileSync(join(dir, 'queue', 'done', `${buildId}.log`), 'utf8'));
    assert.ok(buildLog.includes('Using Docker executor with image runner-test/bash:1 ...'), buildLog.join('\n'));
    const testLog = plainLog(readFileSync(join(dir, 'queue', 'done', `${testId}.log`), 'utf8'));
    assert.ok(testLog.some((line) => /^built with bash 5\.\d/.test(line)), testLog.join('\n'));
    assert.ok(testLog.includes('Starting service runner-test/kv:1...'), testLog.join('\n'));
    assert.ok(testLog.includes('PONG'), testLog.join('\n'));
    assert.equal((await readResult(join(dir, 'queue'), testId!))?.state, 'success');
  } finally {
    await runner.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
