// The local queue's artifacts: the store (upload, download, expiry, atomic
// replacement, the expiry sweep), needs that keep a job pending, and the
// resolution of needs/dependencies into DependencySpec[] when a job is claimed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeZip } from '../../../../src/artifacts/zip-writer.ts';
import { extractZip } from '../../../../src/artifacts/zip-reader.ts';
import type { JobResult } from '../../../../src/job/result.ts';
import type { ArtifactUpload, TransferLogEntry } from '../../../../src/job/transfer.ts';
import { LocalArtifactStore, SWEEP_LIMIT, sweepExpired } from '../../../../src/sources/local/artifact-store.ts';
import { LocalJob, LocalQueueSource } from '../../../../src/sources/local/local-source.ts';
import { resolveDependencies } from '../../../../src/sources/local/local-needs.ts';
import { makeResult, writeResult } from '../../../../src/sources/local/queue-files.ts';
import { artifactsPath, claimNext, enqueue, finish, readResult } from '../../../../src/sources/local/queue.ts';

/** The build's download preferences (the local queue has no object storage to use them). */
const DIRECT = { directDownload: true };

/** A store's line as text, GitLab Runner's formatter without colours. */
function plain(entry: TransferLogEntry): string {
  const prefix = { info: '', warning: 'WARNING: ', error: 'ERROR: ', fatal: 'FATAL: ' }[entry.level];
  const fields = entry.fields ?? {};
  const shown = Object.keys(fields).sort().map((key) => ` ${key}=${fields[key]}`).join('');
  return `${prefix}${entry.message.padEnd(50 - prefix.length)} ${shown}`.trimEnd();
}

const ARCHIVE: ArtifactUpload = { name: 'bin', type: 'archive', format: 'zip', expireIn: '1 week' };
const NOW = new Date('2026-03-01T12:00:00Z');
const signal = new AbortController().signal;

function tempDir(): { root: string; queue: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'runner-artifacts-'));
  return { root, queue: join(root, 'queue'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A real zip of a project directory holding dist/app.txt; returns its path and the file's content. */
async function makeZip(root: string, content = 'built output\n'): Promise<string> {
  const project = join(root, `project-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(project, 'dist'), { recursive: true });
  writeFileSync(join(project, 'dist', 'app.txt'), content);
  const zip = join(root, `${Math.random().toString(36).slice(2)}.zip`);
  await writeZip([{ name: 'dist/', kind: 'directory' }, { name: 'dist/app.txt', kind: 'file' }], zip, { projectDir: project });
  return zip;
}

function done(
  queue: string,
  id: string,
  fields: { name?: string; state?: 'success' | 'failed'; artifacts?: { path: string; expires_at: string | null; bytes: number } } = {},
) {
  const state = fields.state ?? 'success';
  return writeResult(
    queue,
    makeResult({
      id,
      name: fields.name ?? 'build',
      owner: '1-1',
      state,
      failureReason: state === 'success' ? null : 'script_failure',
      exitCode: state === 'success' ? 0 : 1,
      startedAt: NOW,
      finishedAt: NOW,
      artifacts: fields.artifacts,
    }),
  );
}

function jobResult(): JobResult {
  return {
    state: 'success',
    failureReason: undefined,
    exitCode: 0,
    startedAt: NOW,
    finishedAt: NOW,
    durationSeconds: 0,
    stages: [],
    afterScript: undefined,
    log: { receivedBytes: 0, writtenBytes: 0, droppedBytes: 0 },
    systemError: undefined,
    resources: { cpuSeconds: 0, peakRssBytes: 0 },
    transfers: [],
  } as unknown as JobResult;
}

test('a zip is stored beside the result, with its expiry, and downloaded back byte for byte', async () => {
  const { root, queue, cleanup } = tempDir();
  try {
    const { id } = await enqueue(queue, 'name = "build"\nscript = ["make"]\n', 'build.toml');
    const zip = await makeZip(root);
    const store = new LocalArtifactStore(queue, id, () => NOW);
    const lines: string[] = [];
    const report = await store.upload(zip, ARCHIVE, (line) => lines.push(plain(line)), signal);
    const target = artifactsPath(queue, id);
    assert.deepEqual(report, { ok: true, bytes: statSync(zip).size });
    assert.deepEqual(readFileSync(target), readFileSync(zip));
    assert.equal(statSync(target).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(queue, 'tmp')), [], 'no temp file left');
    assert.deepEqual(store.artifacts, { path: target, expires_at: '2026-03-08T12:00:00.000Z', bytes: report.bytes });
    assert.match(
      lines[0]!,
      /^Uploading artifacts as "archive" to local queue\.\.\. ok +bytes=\d+ expires=2026-03-08T12:00:00.000Z id=\S+ path=\S+artifacts\.zip$/,
    );

    await done(queue, id, { artifacts: store.artifacts });
    const dest = join(root, 'downloaded.zip');
    const downloader = new LocalArtifactStore(queue, 'other', () => NOW);
    const got = await downloader.download({ id, name: 'build', token: '', artifactsFile: undefined }, dest, DIRECT, (line) => lines.push(plain(line)), signal);
    assert.deepEqual(got, { ok: true, bytes: report.bytes });
    assert.match(lines[1]!, /^Downloading artifacts from local queue\.\.\. ok +id=/);
    const out = join(root, 'out');
    mkdirSync(out);
    await extractZip(dest, out);
    assert.equal(readFileSync(join(out, 'dist', 'app.txt'), 'utf8'), 'built output\n');
  } finally {
    cleanup();
  }
});

test('an expired, unrecorded or removed archive is not found, in GitLab Runner words', async () => {
  const { root, queue, cleanup } = tempDir();
  try {
    const zip = await makeZip(root);
    const ids = ['0mwrea97y-h22-00002a-9c41e07fd1', '0mwrea97y-h22-00002a-9c41e07fd2', '0mwrea97y-h22-00002a-9c41e07fd3'];
    await enqueue(queue, 'name = "x"\nscript = ["true"]\n', 'x.toml'); // creates the layout
    for (const id of ids) writeFileSync(artifactsPath(queue, id), readFileSync(zip));
    await done(queue, ids[0]!, { artifacts: { path: artifactsPath(queue, ids[0]!), expires_at: '2026-03-01T11:59:59.000Z', bytes: 1 } });
    await done(queue, ids[1]!); // finished without recording it
    await done(queue, ids[2]!, { artifacts: { path: artifactsPath(queue, ids[2]!), expires_at: null, bytes: 1 } });
    rmSync(artifactsPath(queue, ids[2]!));
    for (const id of [...ids, 'no-such-job', '../../etc/passwd']) {
      const lines: string[] = [];
      const dest = join(root, `${id.replace(/[^a-z0-9-]/g, '_')}.zip`);
      const report = await new LocalArtifactStore(queue, 'me', () => NOW).download(
        { id, name: 'build', token: '', artifactsFile: undefined },
        dest,
        DIRECT,
        (l) => lines.push(plain(l)),
        signal,
      );
      assert.deepEqual(report, { ok: false, bytes: 0, failure: 'not_found' }, id);
      assert.deepEqual(lines, [`ERROR: Downloading artifacts from local queue... not found  id=${id}`, 'FATAL: file does not exist'], id);
      assert.ok(!existsSync(dest), 'nothing written');
    }
  } finally {
    cleanup();
  }
});

test('a failed upload leaves the previous archive whole and no temp file; gzip is refused', async () => {
  const { root, queue, cleanup } = tempDir();
  try {
    const { id } = await enqueue(queue, 'name = "build"\nscript = ["make"]\n', 'build.toml');
    const store = new LocalArtifactStore(queue, id, () => NOW);
    const first = await makeZip(root, 'first\n');
    assert.equal((await store.upload(first, ARCHIVE, () => {}, signal)).ok, true);
    const lines: string[] = [];
    const missing = await store.upload(join(root, 'no-such.zip'), ARCHIVE, (l) => lines.push(plain(l)), signal);
    assert.deepEqual(missing, { ok: false, bytes: 0, failure: 'archive' });
    assert.match(lines.join('\n'), /^ERROR: Uploading artifacts as "archive" to local queue\.\.\. +error=no such file or directory id=/);
    assert.deepEqual(readFileSync(artifactsPath(queue, id)), readFileSync(first), 'the earlier archive is untouched');
    assert.deepEqual(readdirSync(join(queue, 'tmp')), []);

    const aborted = AbortSignal.abort();
    const canceled = await store.upload(await makeZip(root), ARCHIVE, () => {}, aborted);
    assert.deepEqual(canceled, { ok: false, bytes: 0, failure: 'canceled' });
    assert.deepEqual(readFileSync(artifactsPath(queue, id)), readFileSync(first));
    assert.deepEqual(readdirSync(join(queue, 'tmp')), []);

    const gzipLines: string[] = [];
    const gzip = await store.upload(first, { ...ARCHIVE, type: 'junit', format: 'gzip' }, (l) => gzipLines.push(plain(l)), signal);
    assert.deepEqual(gzip, { ok: false, bytes: 0, failure: 'archive' });
    assert.equal(gzipLines[1], 'FATAL: the local queue keeps zip archives only, not gzip');
  } finally {
    cleanup();
  }
});

test('the sweep removes expired and unrecorded archives of ended jobs, a bounded number per call', async () => {
  const { queue, cleanup } = tempDir();
  try {
    await enqueue(queue, 'name = "x"\nscript = ["true"]\n', 'x.toml');
    const id = (n: number): string => `0mwrea97y-h22-${String(n).padStart(6, '0')}-9c41e07fd2`;
    const keep = [id(1), id(2)];
    writeFileSync(artifactsPath(queue, id(1)), 'zip');
    await done(queue, id(1), { artifacts: { path: artifactsPath(queue, id(1)), expires_at: '2026-03-01T12:00:01.000Z', bytes: 3 } });
    writeFileSync(artifactsPath(queue, id(2)), 'zip'); // still running: no result yet
    writeFileSync(artifactsPath(queue, id(3)), 'zip');
    await done(queue, id(3)); // ended without recording it (died while uploading)
    const count = SWEEP_LIMIT + 5;
    for (let n = 10; n < 10 + count; n++) {
      writeFileSync(artifactsPath(queue, id(n)), 'zip');
      await done(queue, id(n), { artifacts: { path: artifactsPath(queue, id(n)), expires_at: '2026-03-01T12:00:00.000Z', bytes: 3 } });
    }
    const first = await sweepExpired(queue, '', NOW);
    assert.equal(first.removed.length, SWEEP_LIMIT - 2, 'looked at SWEEP_LIMIT archives, kept two');
    assert.notEqual(first.cursor, '');
    const second = await sweepExpired(queue, first.cursor, NOW);
    assert.equal(second.removed.length, count + 1 - (SWEEP_LIMIT - 2));
    assert.equal(second.cursor, '', 'went round');
    const left = readdirSync(join(queue, 'done')).filter((n) => n.endsWith('.artifacts.zip')).sort();
    assert.deepEqual(left, keep.map((k) => `${k}.artifacts.zip`));
    assert.equal((await readResult(queue, id(1)))?.artifacts?.bytes, 3, 'results stay');
  } finally {
    cleanup();
  }
});

test('a job needing an earlier one waits while it is pending or running', async () => {
  const { queue, cleanup } = tempDir();
  try {
    const build = await enqueue(queue, 'name = "build"\nscript = ["make"]\n', 'build.toml');
    const test1 = await enqueue(queue, 'name = "test"\nscript = ["true"]\nneeds = ["build"]\n', 'test.toml');
    const byId = await enqueue(queue, `name = "deploy"\nscript = ["true"]\nneeds = ["${test1.id}"]\n`, 'deploy.toml');
    const other = await enqueue(queue, 'name = "lint"\nscript = ["true"]\n', 'lint.toml');
    const claimed = await claimNext(queue, '1-1');
    assert.equal(claimed?.id, build.id);
    assert.equal((await claimNext(queue, '1-1'))?.id, other.id, 'test and deploy wait; lint does not');
    assert.equal(await claimNext(queue, '1-1'), undefined);
    await finish(queue, claimed!, { state: 'success', startedAt: NOW });
    const test2 = await claimNext(queue, '1-1');
    assert.equal(test2?.id, test1.id);
    assert.equal(await claimNext(queue, '1-1'), undefined, 'deploy waits for test by id');
    await finish(queue, test2!, { state: 'success', startedAt: NOW });
    assert.equal((await claimNext(queue, '1-1'))?.id, byId.id);
    // A later job of the needed name does not hold back an earlier job.
    await enqueue(queue, 'name = "early"\nscript = ["true"]\nneeds = ["late"]\n', 'early.toml');
    await enqueue(queue, 'name = "late"\nscript = ["true"]\n', 'late.toml');
    assert.equal((await claimNext(queue, '1-1'))?.spec.name, 'early');
  } finally {
    cleanup();
  }
});

test('needs resolve to DependencySpecs at claim; a missing dependency fails the job unrun', async () => {
  const { root, queue, cleanup } = tempDir();
  try {
    const source = new LocalQueueSource(queue, { recovered: () => {}, resultNotWritten: () => {} });
    await enqueue(queue, 'name = "build"\nscript = ["make"]\nartifacts = { paths = ["dist/"] }\n', 'build.toml');
    const build = (await source.request()) as LocalJob;
    assert.ok(build.artifacts instanceof LocalArtifactStore);
    assert.deepEqual(build.job.dependencies, []);
    const upload = await build.artifacts.upload(await makeZip(root), ARCHIVE, () => {}, signal);
    await build.begin();
    await build.finish(jobResult());
    const record = await readResult(queue, build.id);
    assert.equal(record?.artifacts?.bytes, upload.bytes);
    assert.equal(record?.artifacts?.path, artifactsPath(queue, build.id));

    // A failed later build does not shadow the successful one by name.
    await done(queue, '0zzzzzzzz-1-000000-0000000000', { name: 'build', state: 'failed' });
    await enqueue(queue, `name = "test"\nscript = ["true"]\nneeds = ["build", "${build.id}"]\ndependencies = ["build"]\n`, 'test.toml');
    const test1 = (await source.request()) as LocalJob;
    const spec = { id: build.id, name: 'build', token: '', artifactsFile: { filename: `${build.id}.artifacts.zip`, size: upload.bytes } };
    assert.deepEqual(test1.job.dependencies, [spec], 'dependencies chose build by name');
    assert.equal('needs' in test1.job, false);
    const dest = join(root, 'dep.zip');
    assert.equal((await test1.artifacts.download(test1.job.dependencies![0]!, dest, DIRECT, () => {}, signal)).ok, true);
    const bareResolution = await resolveDependencies(queue, {
      name: 't',
      script: [],
      beforeScript: [],
      afterScript: [],
      timeoutSeconds: undefined,
      variables: [],
      needs: [build.id],
    });
    assert.deepEqual(bareResolution, { ok: true, dependencies: [spec] }, 'by id');

    // A job that ended without artifacts: a dependency with nothing to download.
    await done(queue, '0aaaaaaaa-1-000000-0000000000', { name: 'docs' });
    assert.deepEqual(
      await resolveDependencies(queue, { name: 't', script: [], beforeScript: [], afterScript: [], timeoutSeconds: undefined, variables: [], needs: ['docs'] }),
      { ok: true, dependencies: [{ id: '0aaaaaaaa-1-000000-0000000000', name: 'docs', token: '', artifactsFile: undefined }] },
    );

    // Expired (by the clock given), and a name no job succeeded under: missing_dependency_failure, not run.
    assert.deepEqual(
      await resolveDependencies(
        queue,
        { name: 't', script: [], beforeScript: [], afterScript: [], timeoutSeconds: undefined, variables: [], needs: ['build'] },
        new Date(Date.now() + 31 * 86_400_000),
      ),
      { ok: false, reason: `the artifacts of job ${build.id} build have expired or were removed` },
    );
    const missing = await enqueue(queue, 'name = "deploy"\nscript = ["true"]\nneeds = ["package"]\n', 'deploy.toml');
    assert.equal(await source.request(), undefined);
    const failed = await readResult(queue, missing.id);
    assert.equal(failed?.state, 'failed');
    assert.equal(failed?.failure_reason, 'missing_dependency_failure');
    assert.equal(
      readFileSync(join(queue, 'done', `${missing.id}.log`), 'utf8'),
      '[runner] This job could not start because it could not retrieve the needed artifacts: no job named "package" has succeeded in this queue\n',
    );
    await test1.begin();
    await test1.finish(jobResult());
    await source.close();
  } finally {
    cleanup();
  }
});
