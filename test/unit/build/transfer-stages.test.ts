// The cache and artifact stages in the build sequence, on a fake executor
// placed in a real directory and a fake artifact transport: which stages run
// for which outcome, what a failed transfer does to the job, the stage
// attempts, and what is recorded for the metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactSpec, CacheSpec, DependencySpec } from '../../../src/job/model.ts';
import type { ArtifactTransport, ArtifactUpload, TransferReport } from '../../../src/job/transfer.ts';
import { writeZip } from '../../../src/artifacts/zip-writer.ts';
import { FakeExecutor, fakeJob, type FakeRun, runnerSettings } from '../../support/fakes.ts';
import { build, buildsRoot } from './harness.ts';

const artifact = (fields: Partial<ArtifactSpec> = {}): ArtifactSpec => ({
  name: undefined,
  paths: ['out.txt'],
  exclude: [],
  untracked: false,
  when: 'on_success',
  type: 'archive',
  format: 'zip',
  expireIn: undefined,
  ...fields,
});
const cache = (fields: Partial<CacheSpec> = {}): CacheSpec => ({
  key: 'k',
  paths: ['out.txt'],
  untracked: false,
  policy: 'pull-push',
  when: 'on_success',
  fallbackKeys: [],
  ...fields,
});
const dependency: DependencySpec = { id: '41', name: 'build', token: 'dependency-token', artifactsFile: { filename: 'artifacts.zip', size: 1 } };

/** A transport that records uploads and serves `archive` for downloads, failing the first `failDownloads` of them. */
class FakeTransport implements ArtifactTransport {
  readonly uploads: ArtifactUpload[] = [];
  downloads = 0;
  constructor(private readonly archive: string | undefined, private failDownloads = 0, private readonly uploadReport?: TransferReport) {}
  upload(_file: string, upload: ArtifactUpload): Promise<TransferReport> {
    this.uploads.push(upload);
    return Promise.resolve(this.uploadReport ?? { ok: true, bytes: 10 });
  }
  download(_dependency: DependencySpec, dest: string, _preferences: unknown, log: Parameters<ArtifactTransport['download']>[3]): Promise<TransferReport> {
    this.downloads++;
    if (this.failDownloads > 0 || this.archive === undefined) {
      this.failDownloads--;
      log({ level: 'fatal', message: 'file does not exist' });
      return Promise.resolve({ ok: false, bytes: 0, failure: 'not_found' });
    }
    copyFileSync(this.archive, dest);
    return Promise.resolve({ ok: true, bytes: 22 });
  }
}

/** A build in a real directory: the job's project and temporary directories exist, the script writes out.txt (or fails). */
async function run(
  fields: Parameters<typeof fakeJob>[1],
  transport: ArtifactTransport | undefined,
  script: (run: FakeRun, projectDir: string) => void = () => {},
) {
  const root = buildsRoot();
  const executor = new FakeExecutor({ buildsDir: root.dir });
  const projectDir = join(root.dir, '9');
  mkdirSync(projectDir, { recursive: true });
  mkdirSync(join(root.dir, '9.tmp'), { recursive: true });
  try {
    return await build(
      fakeJob('9', fields),
      (stage) => {
        if (stage.stage === 'step_script') {
          writeFileSync(join(projectDir, 'out.txt'), 'out\n');
          script(stage, projectDir);
        }
        stage.exit(0); // settles nothing when the script above already ended the stage
      },
      { artifacts: transport, runner: runnerSettings({ cacheDir: join(root.dir, 'cache') }) },
      executor,
    );
  } finally {
    root.done();
  }
}

test('the stages run in GitLab order for a successful job, and what moved is recorded', async () => {
  const dir = buildsRoot();
  const zip = join(dir.dir, 'dep.zip');
  writeFileSync(join(dir.dir, 'dep.txt'), 'from the dependency\n');
  await writeZip([{ name: 'dep.txt', kind: 'file' }], zip, { projectDir: dir.dir });
  const transport = new FakeTransport(zip);
  const { result, stages, log } = await run({
    artifacts: [artifact(), artifact({ when: 'on_failure', name: 'never' })],
    cache: [cache()],
    dependencies: [dependency],
  }, transport);
  dir.done();
  assert.equal(result.state, 'success', log);
  assert.deepEqual(stages, [
    'prepare_executor',
    'prepare_script',
    'restore_cache',
    'download_artifacts',
    'step_script',
    'archive_cache',
    'upload_artifacts_on_success',
    'cleanup_file_variables',
  ]);
  assert.deepEqual(transport.uploads.map((u) => u.name), [undefined], 'only the on_success entry');
  assert.ok(log.includes('Downloading artifacts for build (41)...'), log);
  assert.deepEqual(result.transfers.map((t) => [t.kind, t.direction, t.result, t.cache]), [
    ['cache', 'download', 'success', 'miss'],
    ['artifact', 'download', 'success', undefined],
    ['cache', 'upload', 'success', undefined],
    ['artifact', 'upload', 'success', undefined],
  ]);
});

test("a failed job saves the on_failure/always entries only; its own failure stays the job's", async () => {
  const transport = new FakeTransport(undefined);
  const { result, stages } = await run(
    {
      artifacts: [artifact(), artifact({ when: 'always', name: 'both' }), artifact({ when: 'on_failure', name: 'failing' })],
      cache: [cache(), cache({ key: 'f', when: 'on_failure' })],
    },
    transport,
    (stage) => stage.exit(4),
  );
  assert.equal(result.state, 'failed');
  assert.equal(result.exitCode, 4);
  assert.ok(stages.includes('archive_cache_on_failure') && stages.includes('upload_artifacts_on_failure') && !stages.includes('archive_cache'));
  assert.deepEqual(transport.uploads.map((u) => u.name), ['both', 'failing']);
});

test("a failed upload fails a successful job with the helper's exit status; without a transport the job is warned and nothing is uploaded", async () => {
  const failing = new FakeTransport(undefined, 0, { ok: false, bytes: 0, failure: 'too_large' });
  const failed = await run({ artifacts: [artifact()] }, failing);
  assert.equal(failed.result.state, 'failed');
  assert.equal(failed.result.failureReason, 'script_failure');
  assert.equal(failed.result.failure, 'exit status 1');
  assert.deepEqual(failed.result.transfers.map((t) => [t.result, t.failure]), [['failure', 'too_large']]);

  const none = await run({ artifacts: [artifact()], dependencies: [dependency] }, undefined);
  assert.equal(none.result.state, 'success');
  assert.ok(none.log.includes("this job's source keeps no artifacts: artifacts, dependencies ignored"), none.log);
  assert.ok(!none.stages.includes('upload_artifacts_on_success') && !none.stages.includes('download_artifacts'));
});

test('ARTIFACT_DOWNLOAD_ATTEMPTS tries the stage again after Retrying...; the last failure fails the job before its script', async () => {
  const dir = buildsRoot();
  const zip = join(dir.dir, 'dep.zip');
  writeFileSync(join(dir.dir, 'dep.txt'), 'x');
  await writeZip([{ name: 'dep.txt', kind: 'file' }], zip, { projectDir: dir.dir });
  const flaky = new FakeTransport(zip, 2);
  const retried = await run({ dependencies: [dependency], variables: [{ key: 'ARTIFACT_DOWNLOAD_ATTEMPTS', value: '3', masked: false }] }, flaky);
  assert.equal(retried.result.state, 'success', retried.log);
  assert.equal(flaky.downloads, 3);
  assert.equal(retried.log.split('WARNING: Retrying...').length - 1, 2);
  assert.deepEqual(retried.pauses, [5_000, 10_000]);

  const gone = new FakeTransport(undefined, 5);
  const failed = await run({ dependencies: [dependency] }, gone);
  dir.done();
  assert.equal(failed.result.state, 'failed');
  assert.equal(failed.result.failure, 'exit status 1');
  assert.ok(!failed.stages.includes('step_script'));
  assert.equal(gone.downloads, 1);
});

test("an unknown cache policy fails the job with GitLab Runner's error; after the job's timeout nothing is uploaded", async () => {
  const policy = await run(
    { cache: [cache({ policy: '$POLICY' })], variables: [{ key: 'POLICY', value: 'sometimes', masked: false }] },
    new FakeTransport(undefined),
  );
  assert.equal(policy.result.state, 'failed');
  assert.equal(policy.result.failureReason, 'runner_system_failure');
  assert.equal(policy.result.failure, 'unknown cache policy sometimes for k');
  assert.ok(!policy.log.includes('Restoring cache'), 'GitLab Runner fails before the section');
  assert.ok(policy.log.includes('Job failed (system failure): unknown cache policy sometimes for k'), policy.log);

  const transport = new FakeTransport(undefined);
  const timedOut = await run(
    { artifacts: [artifact({ when: 'always' })], timeoutSeconds: 1 },
    transport,
    (stage) => stage.end({ outcome: 'timeout', exitCode: 137 }),
  );
  assert.equal(timedOut.result.failureReason, 'job_execution_timeout');
  assert.equal(transport.uploads.length, 0);
});

/** An upload that lasts until it is stopped (honouring the signal, as a transport must). */
class HangingTransport implements ArtifactTransport {
  readonly uploads: ArtifactUpload[] = [];
  download(): Promise<TransferReport> {
    return Promise.resolve({ ok: false, bytes: 0, failure: 'not_found' });
  }
  upload(_file: string, upload: ArtifactUpload, _log: unknown, signal: AbortSignal): Promise<TransferReport> {
    this.uploads.push(upload);
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, bytes: 0, failure: 'canceled' }), { once: true }));
  }
}

test("the job's timeout during an upload ends the job as timed out, not as the upload's failure", async () => {
  const { result } = await run({ artifacts: [artifact()], timeoutSeconds: 1 }, new HangingTransport());
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'job_execution_timeout');
  assert.match(result.failure ?? '', /^execution took longer than 1s seconds$/);
});

test('a raw artifact must be a regular file: a symlink out of the project is refused', async () => {
  const transport = new FakeTransport(undefined);
  const { result, log } = await run({ artifacts: [artifact({ paths: ['link'], format: 'raw', type: 'dotenv' })] }, transport, (_stage, projectDir) => {
    symlinkSync('/etc/hostname', join(projectDir, 'link'));
  });
  assert.equal(result.state, 'failed');
  assert.ok(log.includes('FATAL: link: only a regular file can be sent as raw'), log);
  assert.equal(transport.uploads.length, 0);
});
