// Multi-stage pipelines through the test coordinator, as GitLab runs them:
// `build` uploads artifacts (zip for archive, gzip for a junit report), `test`
// downloads them as a dependency and keeps a cache, `deploy` needs both.
// The archives the coordinator received are read by Debian's unzip/zipinfo,
// Python's zipfile and gzip; the files arrive byte for byte.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ArtifactEntry, CoordinatorJob, JobSpec } from '../../support/coordinator/coordinator.ts';
import { skipUnless } from '../../support/tools.ts';
import { logLines, logText, runJob, sharedGitLabRunner, stageLines, withoutSources } from './harness.ts';

const shared = sharedGitLabRunner({ runner: 'cache_dir = "cache"\n' });
after(() => shared.close());

const unzipSkip = skipUnless('unzip', 'unzip', '-v') || skipUnless('python3', 'python3');

const archive = (paths: string[], more: Partial<ArtifactEntry> = {}): ArtifactEntry => ({
  name: null,
  untracked: false,
  paths,
  when: 'on_success',
  expire_in: null,
  artifact_type: 'archive',
  artifact_format: 'zip',
  ...more,
});

const sha = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

async function run(spec: JobSpec): Promise<CoordinatorJob> {
  const s = await shared.get();
  return runJob(s.coordinator, withoutSources(spec), 60_000);
}

function tool(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

test(
  'build -> test -> deploy: artifacts pass between jobs byte for byte, reports go up as gzip, real readers accept the archives',
  { skip: unzipSkip },
  async () => {
    const s = await shared.get();
    const build = await run({
      name: 'build',
      script: [
        'mkdir -p dist/sub empty-dir',
        'printf "binary\\0data" > dist/app.bin',
        'echo nested > dist/sub/nested.txt',
        'chmod 755 dist/app.bin',
        'ln -s app.bin dist/link',
        'echo "<testsuite/>" > junit.xml',
        'echo excluded > dist/skip.tmp',
      ],
      artifacts: [
        archive(['dist/', 'empty-dir'], { exclude: ['dist/*.tmp'], name: 'build-$CI_JOB_NAME' }),
        archive(['junit.xml'], { name: 'junit.xml', artifact_type: 'junit', artifact_format: 'gzip', when: 'always' }),
      ],
    });
    assert.equal(build.state, 'success', logText(build.trace));
    const lines = logLines(build.trace);
    assert.ok(lines.includes('Uploading artifacts for successful job'), lines.join('\n'));
    assert.ok(lines.includes('Uploading artifacts...'));
    assert.ok(lines.some((line) => /^dist\/: found 5 matching artifact files and directories\s*$/.test(line)), lines.join('\n'));
    assert.ok(
      lines.some((line) => /^Uploading artifacts as "archive" to coordinator\.\.\. 201 Created\s+correlation_id=\S* id=\d+ status=201 token=\S+$/.test(line)),
      lines.join('\n'),
    );
    assert.ok(lines.some((line) => line.startsWith('Uploading artifacts as "junit" to coordinator... 201 Created')));
    assert.ok(!lines.some((line) => line.includes('does not support')), 'no warning about artifacts');

    const uploads = s.coordinator.artifactUploads.filter((upload) => upload.jobId === build.id);
    assert.deepEqual(uploads.map((u) => [u.type, u.format, u.filename]), [['archive', 'zip', 'build-build.zip'], ['junit', 'gzip', 'junit.xml.gz']]);
    const zip = uploads[0]!.path;
    tool('unzip', ['-t', '-q', zip]);
    const listing = tool('zipinfo', [zip]);
    assert.match(listing, /^-rwxr-xr-x .* dist\/app\.bin$/m);
    assert.match(listing, /^lrwxrwxrwx .* dist\/link$/m);
    assert.doesNotMatch(listing, /skip\.tmp/);
    const names = tool('python3', [
      '-c',
      'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print("\\n".join(sorted(z.namelist())))',
      zip,
    ]);
    assert.deepEqual(names.trim().split('\n'), ['dist/', 'dist/app.bin', 'dist/link', 'dist/sub/', 'dist/sub/nested.txt', 'empty-dir/']);
    tool('gzip', ['-t', uploads[1]!.path]);
    assert.equal(tool('gzip', ['-dc', uploads[1]!.path]), '<testsuite/>\n');

    const testJob = await run({
      name: 'test',
      // A fresh project directory: only the dependency's artifacts are there (GIT_STRATEGY none would keep build's files).
      variables: [{ key: 'GIT_STRATEGY', value: 'empty' }],
      dependencies: [build.id],
      script: [
        'sha256sum dist/app.bin dist/sub/nested.txt',
        'readlink dist/link',
        'test -x dist/app.bin',
        'test ! -e junit.xml',
        'mkdir -p .cache && echo cached > .cache/data',
      ],
      extra: { cache: [{ key: 'deps-$CI_COMMIT_REF_SLUG', paths: ['.cache/'], policy: 'pull-push', when: 'on_success', untracked: false }] },
      artifacts: [archive(['dist/sub/nested.txt'])],
    });
    assert.equal(testJob.state, 'success', logText(testJob.trace));
    const testLines = logLines(testJob.trace);
    assert.ok(testLines.includes(`Downloading artifacts for build (${build.id})...`), testLines.join('\n'));
    assert.ok(
      testLines.some((line) => /^Downloading artifacts from coordinator\.\.\. ok\s+correlation_id=\S* host=\S+ id=\d+ status=200 token=\S+$/.test(line)),
      testLines.join('\n'),
    );
    assert.ok(testLines.some((line) => line.includes(sha('binary\0data'))), 'the binary arrived byte for byte');
    assert.ok(testLines.includes('app.bin'));
    assert.ok(testLines.includes('Saving cache for successful job'));
    assert.ok(testLines.some((line) => line.startsWith('Creating cache deps-main')), testLines.join('\n'));
    assert.ok(testLines.includes('Created cache'));
    assert.deepEqual(stageLines(testJob.trace, 'Restoring cache').filter((line) => line.startsWith('Checking cache')), ['Checking cache for deps-main...']);

    const deploy = await run({
      name: 'deploy',
      variables: [{ key: 'GIT_STRATEGY', value: 'empty' }],
      dependencies: [build.id, testJob.id],
      script: ['cat dist/sub/nested.txt', 'cat .cache/data'],
      extra: { cache: [{ key: 'deps-$CI_COMMIT_REF_SLUG', paths: ['.cache/'], policy: 'pull', when: 'on_success', untracked: false }] },
    });
    assert.equal(deploy.state, 'success', logText(deploy.trace));
    const deployLines = logLines(deploy.trace);
    assert.ok(deployLines.includes('Successfully extracted cache'), deployLines.join('\n'));
    assert.ok(deployLines.includes('cached'));
    assert.ok(deployLines.includes(`Downloading artifacts for test (${testJob.id})...`));
    assert.ok(deployLines.includes('Not uploading cache deps-main due to policy') || !deployLines.includes('Saving cache for successful job'));
    assert.equal(readFileSync(join(s.dir, 'config.toml'), 'utf8').includes('cache_dir'), true);
  },
);

test('paths leaving the project are refused with a log line; an empty match is an error line, not a failure; on_failure entries go up for a failed job', async () => {
  const s = await shared.get();
  const job = await run({
    name: 'escapes',
    script: ['echo secret > ../outside.txt', 'ln -sf /etc link-out', 'echo kept > kept.txt', 'exit 3'],
    artifacts: [
      archive(['../outside.txt', '/etc/hostname', 'link-out/hostname', 'kept.txt'], { when: 'on_failure' }),
      archive(['nothing-here/'], { when: 'always', name: 'empty' }),
      archive(['kept.txt'], { when: 'on_success', name: 'never' }),
    ],
  });
  assert.equal(job.state, 'failed');
  const lines = logLines(job.trace);
  assert.ok(lines.includes('Uploading artifacts for failed job'), lines.join('\n'));
  // GitLab Runner's own words for each kind of escape.
  const warnings = lines.filter((line) => line.startsWith('WARNING: ')).map((line) => line.trimEnd());
  assert.ok(warnings.includes('WARNING: processPath: artifact path is not a subpath of project directory: ../outside.txt'), lines.join('\n'));
  assert.ok(warnings.includes('WARNING: processPath: artifact path is not a subpath of project directory: /etc/hostname'));
  assert.ok(warnings.includes('WARNING: link-out/hostname: not supported: outside build directory'));
  assert.ok(lines.some((line) => /^WARNING: nothing-here\/: no matching files/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => /^ERROR: No files to upload\s*$/.test(line)), lines.join('\n'));
  assert.ok(lines.at(-1)!.startsWith('ERROR: Job failed: exit status 3'), "the script failure stays the job's");
  const uploads = s.coordinator.artifactUploads.filter((upload) => upload.jobId === job.id);
  assert.equal(uploads.length, 1, 'only the on_failure entry with files went up');
  const names = tool('python3', ['-c', 'import sys,zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', uploads[0]!.path]);
  assert.deepEqual(names.trim().split('\n'), ['kept.txt']);
});

test("413 fails the job with the helper's FATAL line; a dropped upload is tried again and arrives whole; a missing dependency fails the download", async () => {
  const s = await shared.get();
  s.coordinator.setMaxArtifactBytes(1024);
  try {
    const big = await run({ name: 'big', script: ['head -c 200000 /dev/urandom > big.bin'], artifacts: [archive(['big.bin'])] });
    assert.equal(big.state, 'failed', logText(big.trace));
    const lines = logLines(big.trace);
    assert.ok(lines.some((line) => /^ERROR: Uploading artifacts as "archive" to coordinator\.\.\. 413 Request Entity Too Large/.test(line)), lines.join('\n'));
    assert.ok(lines.some((line) => /^FATAL: too large\s*$/.test(line)), lines.join('\n'));
    assert.equal(lines.at(-1), 'ERROR: Job failed: exit status 1');
  } finally {
    s.coordinator.setMaxArtifactBytes(undefined);
  }

  s.coordinator.dropNextUpload(50_000);
  const dropped = await run({ name: 'dropped', script: ['head -c 300000 /dev/urandom > data.bin', 'sha256sum data.bin'], artifacts: [archive(['data.bin'])] });
  assert.equal(dropped.state, 'success', logText(dropped.trace));
  const droppedLines = logLines(dropped.trace);
  assert.ok(droppedLines.some((line) => line.startsWith('WARNING: Retrying...')), droppedLines.join('\n'));
  const upload = s.coordinator.artifactUploads.find((u) => u.jobId === dropped.id)!;
  tool('unzip', ['-t', '-q', upload.path]);
  const digest = droppedLines.find((line) => line.endsWith('  data.bin'))!.split(' ')[0];
  assert.equal(tool('sh', ['-c', `unzip -p '${upload.path}' data.bin | sha256sum`]).split(' ')[0], digest);

  // A dependency whose archive is gone (404): the download fails the job before its script.
  const ghost = await run({ name: 'ghost', script: ['true'] });
  const orphan = await run({
    name: 'orphan',
    script: ['echo never'],
    extra: { dependencies: [{ id: ghost.id, name: 'ghost', token: 'x', artifacts_file: { filename: 'artifacts.zip', size: 1 } }] },
  });
  assert.equal(orphan.state, 'failed', logText(orphan.trace));
  const orphanLines = logLines(orphan.trace);
  assert.ok(orphanLines.some((line) => /^FATAL: (file does not exist|permission denied)\s*$/.test(line)), orphanLines.join('\n'));
  assert.ok(!orphanLines.includes('never'));
});

test('with object storage, the download follows the 302 without the job token', async () => {
  const s = await shared.get();
  await s.coordinator.enableObjectStorage();
  const build = await run({ name: 'stored', script: ['echo far > far.txt'], artifacts: [archive(['far.txt'])] });
  assert.equal(build.state, 'success', logText(build.trace));
  const use = await run({ name: 'use', variables: [{ key: 'GIT_STRATEGY', value: 'empty' }], dependencies: [build.id], script: ['cat far.txt'] });
  assert.equal(use.state, 'success', logText(use.trace));
  const lines = logLines(use.trace);
  assert.ok(lines.some((line) => line.startsWith('Direct download from ')), lines.join('\n'));
  assert.ok(lines.includes('far'));
  const storage = s.coordinator.objectStorageRequests.at(-1)!;
  assert.equal(storage.status, 200);
  assert.equal(storage.headers['job-token'], undefined);
});

test('the metrics count the transfers by direction and result', async () => {
  const s = await shared.get();
  const { body } = await s.runner.untilScraped();
  assert.match(body, /^ci_runner_artifact_bytes_total\{[^}]*direction="upload"[^}]*result="success"[^}]*\} [1-9]/m);
  assert.match(body, /^ci_runner_artifact_bytes_total\{[^}]*direction="download"[^}]*result="success"[^}]*\} [1-9]/m);
  assert.match(body, /^ci_runner_cache_restores_total\{[^}]*result="hit"[^}]*\} [1-9]/m);
  assert.match(body, /^ci_runner_job_stage_duration_seconds_count\{[^}]*stage="upload_artifacts_on_success"[^}]*\} [1-9]/m);
});
