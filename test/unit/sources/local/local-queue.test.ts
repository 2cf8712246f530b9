// The local queue directory: enqueue, claim, finish, dead-claim recovery and
// waiting for results, with several real processes on one queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleExtension, scriptCommand } from '../../../../src/runtime/runtime.ts';
import { collectOutput } from '../../../support/child-output.ts';
import { ConfigError } from '../../../../src/config/validate.ts';
import { systemFailureResult } from '../../../../src/job/result.ts';
import { parseJobFile } from '../../../../src/sources/local/job-file.ts';
import { LocalQueueSource } from '../../../../src/sources/local/local-source.ts';
import { isJobId, jobIdTime, newJobId } from '../../../../src/sources/local/job-id.ts';
import {
  type ClaimedJob,
  claimNext,
  type DoneRecord,
  enqueue,
  finish,
  isOwnerAlive,
  jobFileText,
  jobState,
  openJobLog,
  ownerOf,
  processStartTime,
  QueueError,
  readResult,
  recoverDeadClaims,
  waitForResult,
} from '../../../../src/sources/local/queue.ts';

/** test/support/queue-worker.ts, or dist/test/support/queue-worker.js on Node. */
const QUEUE_WORKER = fileURLToPath(new URL(`../../../support/queue-worker${moduleExtension(import.meta.url)}`, import.meta.url));

const SECRET = 's3cretvalue-never-in-results';
const JOB = `name = "unit-tests"
script = ["npm ci", "npm test"]
after_script = ["echo cleanup"]
timeout = "10m"
[variables]
GREETING = "hello-plain-value"
API_KEY = { value = "${SECRET}", masked = true }
`;

function tempQueue(): { root: string; queue: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'runner-queue-'));
  return { root, queue: join(root, 'queue'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
const job = (name: string): string => `name = "${name}"\nscript = ["true"]\n`;

/** The error a promise rejects with, checked to be of `type` and one line. */
async function rejection(promise: Promise<unknown>, type: typeof QueueError | typeof ConfigError): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, String(error));
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail('no error');
}

/** Pid of a process that has exited and been reaped. */
function deadPid(): number {
  const child = spawnSync('sleep', ['0']);
  assert.ok(typeof child.pid === 'number' && child.pid > 0 && child.status === 0);
  return child.pid;
}

test('enqueue, claim and finish: files 0600, the secret only in the queued job, never in the result', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const { id, path } = await enqueue(queue, JOB, 'job.toml');
    assert.ok(isJobId(id), id);
    assert.equal(path, join(queue, 'pending', `${id}.toml`));
    assert.equal(mode(queue), 0o700);
    assert.equal(mode(path), 0o600);
    assert.equal(readFileSync(path, 'utf8'), JOB);
    assert.deepEqual(files(join(queue, 'tmp')), []);
    assert.equal(await jobState(queue, id), 'pending');

    const owner = ownerOf();
    assert.match(owner, new RegExp(`^${process.pid}-[0-9]+$`));
    const claimed = await claimNext(queue);
    assert.ok(claimed);
    assert.equal(claimed.id, id);
    assert.equal(claimed.owner, owner);
    assert.equal(claimed.path, join(queue, 'claimed', owner, `${id}.toml`));
    assert.deepEqual(claimed.spec, parseJobFile(JOB, 'job.toml'));
    assert.equal(mode(claimed.path), 0o600);
    assert.deepEqual(files(join(queue, 'pending')), []);
    assert.equal(await jobState(queue, id), 'claimed');
    assert.equal(await claimNext(queue), undefined);

    const log = await openJobLog(claimed);
    await log.write('$ npm test\nok [MASKED]\n');
    await log.close();
    assert.equal(claimed.logPath, join(queue, 'done', `${id}.log`));
    assert.equal(mode(claimed.logPath), 0o600);

    const startedAt = new Date(Date.now() - 1500);
    const finishedAt = new Date();
    const result = await finish(queue, claimed, { state: 'failed', failureReason: 'script_failure', exitCode: 3, startedAt, finishedAt });
    const expected: DoneRecord = {
      id,
      name: 'unit-tests',
      state: 'failed',
      failure_reason: 'script_failure',
      exit_code: 3,
      started_at: startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      duration_seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      owner,
    };
    assert.deepEqual(result, expected);
    const resultFile = join(queue, 'done', `${id}.json`);
    assert.equal(mode(resultFile), 0o600);
    const text = readFileSync(resultFile, 'utf8');
    assert.deepEqual(JSON.parse(text), expected);
    assert.ok(!text.includes(SECRET) && !text.includes('hello-plain-value'), text);
    assert.ok(!existsSync(claimed.path), 'the claimed job file (with its secret) is removed');
    assert.deepEqual(await readResult(queue, id), expected);
    assert.equal(await jobState(queue, id), 'done');
    assert.deepEqual(await waitForResult(queue, id), expected);
    assert.deepEqual(files(join(queue, 'tmp')), []);
    for (const dir of ['pending', 'claimed', 'done', 'tmp', 'recovering']) assert.equal(mode(join(queue, dir)), 0o700, dir);
  } finally {
    cleanup();
  }
});

test('a job definition is queued as a job file that reads back the same', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const spec = parseJobFile(JOB.replace('[variables]', 'before_script = ["echo \\"quoted\\""]\n[variables]\n__proto__ = "x"'), 'job.toml');
    assert.deepEqual(spec.beforeScript, ['echo "quoted"']);
    assert.deepEqual(spec.variables.map((v) => v.key).sort(), ['API_KEY', 'GREETING', '__proto__']);
    assert.deepEqual(parseJobFile(jobFileText(spec), 'again.toml'), spec);
    const { id } = await enqueue(queue, spec, 'spec');
    const claimed = await claimNext(queue);
    assert.equal(claimed?.id, id);
    assert.deepEqual(claimed.spec, spec);
  } finally {
    cleanup();
  }
});

test('an invalid job file enqueues nothing', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    assert.equal(
      await rejection(enqueue(queue, 'name = "x"\n', 'bad.toml'), ConfigError),
      'bad.toml: script: required, a non-empty array of commands such as ["npm ci", "npm test"]',
    );
    assert.match(await rejection(enqueue(queue, 'name = "x\nscript = 1', 'broken.toml'), ConfigError), /^broken\.toml:1:\d+: TOML syntax error/);
    const masked = await rejection(enqueue(queue, `${job('x')}[variables]\nK = { value = "tiny7", masked = true }\n`, 'm.toml'), ConfigError);
    assert.ok(!masked.includes('tiny7'), masked);
    await enqueue(queue, job('good'), 'good.toml');
    await rejection(enqueue(queue, 'script = []', 'bad.toml'), ConfigError);
    assert.equal(files(join(queue, 'pending')).length, 1);
    assert.deepEqual(files(join(queue, 'tmp')), []);
  } finally {
    cleanup();
  }
});

test('bad queue paths and owners are one-line errors naming them', async () => {
  const { root, queue, cleanup } = tempQueue();
  try {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    assert.equal(await rejection(enqueue(file, job('x'), 'x.toml'), QueueError), `queue directory ${file}: expected a directory, got a file`);
    assert.match(await rejection(claimNext(join(file, 'queue')), QueueError), new RegExp(`^cannot create queue directory ${file}/queue: `));
    // Under /proc Node's own recursive mkdir never returns; the same prompt error on every runtime.
    assert.equal(
      await rejection(claimNext('/proc/self/runner-queue/q'), QueueError),
      'cannot create queue directory /proc/self/runner-queue/q: no such file or directory',
    );
    // A dangling symlink: the same words on every runtime.
    const dangling = join(root, 'dangling');
    symlinkSync(join(root, 'nowhere', 'deeper'), dangling);
    assert.equal(await rejection(enqueue(dangling, job('x'), 'x.toml'), QueueError), `cannot create queue directory ${dangling}: no such file or directory`);
    assert.equal(await rejection(claimNext(queue, 'me'), QueueError), 'queue owner "me": expected PID-STARTTIME such as 1234-567890');
    assert.equal(
      await rejection(waitForResult(queue, '0mwrea97y-h22-00002a-9c41e07fd2'), QueueError),
      `queue ${queue}: no job 0mwrea97y-h22-00002a-9c41e07fd2 (not pending, claimed or done)`,
    );
  } finally {
    cleanup();
  }
});

test('jobs are claimed oldest first', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await enqueue(queue, job(`job-${i}`), `${i}.toml`)).id);
    const claimed: ClaimedJob[] = [];
    for (let next = await claimNext(queue); next; next = await claimNext(queue)) claimed.push(next);
    assert.deepEqual(claimed.map((c) => c.id), ids);
    assert.deepEqual(claimed.map((c) => c.spec.name), ids.map((_, i) => `job-${i}`));
  } finally {
    cleanup();
  }
});

test('a pending file that is not a valid job, or cannot be read, is finished as failed and skipped', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const { id: good } = await enqueue(queue, job('good'), 'good.toml');
    const bad = newJobId(jobIdTime(good)! - 1000);
    // One that cannot be read as a file at all: a directory by a job file's name.
    const unreadable = newJobId(jobIdTime(good)! - 500);
    assert.ok(isJobId(bad) && bad < unreadable && unreadable < good, bad);
    writeFileSync(join(queue, 'pending', `${bad}.toml`), 'name = 5\n');
    mkdirSync(join(queue, 'pending', `${unreadable}.toml`));
    writeFileSync(join(queue, 'pending', 'notes.txt'), 'ignored');
    const claimed = await claimNext(queue);
    assert.equal(claimed?.id, good);
    assert.equal(claimed.spec.name, 'good');
    for (const id of [bad, unreadable]) {
      const result = await readResult(queue, id);
      assert.equal(result?.state, 'failed');
      assert.equal(result.failure_reason, 'data_integrity_failure');
      assert.equal(result.name, null);
    }
    assert.match(readFileSync(join(queue, 'done', `${bad}.log`), 'utf8'), /invalid job file: .*name: expected a non-empty string/);
    assert.match(readFileSync(join(queue, 'done', `${unreadable}.log`), 'utf8'), /invalid job file: cannot read job file .*pending.*EISDIR/);
    assert.deepEqual(files(join(queue, 'pending')), ['notes.txt']);
    assert.deepEqual(files(join(queue, 'claimed', claimed.owner)), [`${good}.toml`]);
  } finally {
    cleanup();
  }
});

interface WorkerOutput {
  owner: string;
  ids: string[];
}

/** Runs `count` queue-worker processes at once (released together through a go file); their outputs. */
async function runWorkers(workerMode: 'claim' | 'recover', queue: string, root: string, count: number): Promise<WorkerOutput[]> {
  const go = join(root, `go-${workerMode}`);
  const [command, ...args] = scriptCommand(QUEUE_WORKER);
  const children = Array.from({ length: count }, () => {
    const child = spawn(command, [...args, workerMode, queue, go], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    const output = collectOutput(child);
    const exited = output.done.then(({ code, stdout, stderr }) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) throw new Error(`queue-worker exited ${code}:\n${stdout}\n${stderr}`);
      return JSON.parse(last) as WorkerOutput;
    });
    const ready = new Promise<void>((resolve) => {
      const check = (): void => {
        if (output.stdout().includes('ready\n')) resolve();
      };
      child.stdout.on('data', check);
      void exited.catch(() => resolve());
    });
    return { ready, exited };
  });
  await Promise.all(children.map((c) => c.ready));
  writeFileSync(go, '');
  return Promise.all(children.map((c) => c.exited));
}

test('four processes claiming from one queue of 200 jobs claim each exactly once', async () => {
  const { root, queue, cleanup } = tempQueue();
  try {
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await enqueue(queue, job(`job-${i}`), `${i}.toml`)).id);
    const outputs = await runWorkers('claim', queue, root, 4);
    const claimed = outputs.flatMap((o) => o.ids);
    assert.equal(new Set(outputs.map((o) => o.owner)).size, 4);
    assert.equal(claimed.length, 200, 'no job claimed twice');
    assert.deepEqual(new Set(claimed), ids);
    for (const output of outputs) {
      for (const id of output.ids) assert.equal((await readResult(queue, id))?.owner, output.owner);
    }
    assert.deepEqual(files(join(queue, 'pending')), []);
    for (const owner of files(join(queue, 'claimed'))) assert.deepEqual(files(join(queue, 'claimed', owner)), [], owner);
    assert.deepEqual(files(join(queue, 'tmp')), []);
    process.stderr.write(`claims per process: ${outputs.map((o) => o.ids.length).join(', ')}\n`);
  } finally {
    cleanup();
  }
});

test('owners: this process is alive; an exited pid and a reused pid (other start time) are dead', () => {
  const start = processStartTime(process.pid);
  assert.match(start ?? '', /^[0-9]+$/);
  assert.equal(isOwnerAlive(ownerOf()), true);
  assert.equal(isOwnerAlive(`${process.pid}-${BigInt(start!) + 1n}`), false);
  assert.equal(isOwnerAlive(`${deadPid()}-${start}`), false);
  assert.equal(isOwnerAlive(`${process.pid}-unknown`), true);
});

test('jobs claimed by a dead process are finished as failed, not run again', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const dead = `${deadPid()}-12345`;
    const reused = `${process.pid}-${BigInt(processStartTime(process.pid)!) + 1n}`;
    const live = ownerOf();
    const [a, b, c, d] = [
      await enqueue(queue, JOB, 'a.toml'),
      await enqueue(queue, job('b'), 'b.toml'),
      await enqueue(queue, job('c'), 'c.toml'),
      await enqueue(queue, job('d'), 'd.toml'),
    ];
    const claimedA = await claimNext(queue, dead);
    await claimNext(queue, dead);
    await claimNext(queue, reused);
    const mine = await claimNext(queue, live);
    assert.deepEqual([claimedA?.id, mine?.id], [a!.id, d!.id]);
    await new Promise((resolve) => setTimeout(resolve, 20));

    const results = await recoverDeadClaims(queue);
    assert.deepEqual(results.map((r) => r.id).sort(), [a!.id, b!.id, c!.id].sort());
    for (const result of results) {
      assert.equal(result.state, 'failed');
      assert.equal(result.failure_reason, 'runner_system_failure');
      assert.equal(result.exit_code, null);
      assert.ok(result.duration_seconds > 0, String(result.duration_seconds));
      assert.deepEqual(await readResult(queue, result.id), result);
      assert.match(readFileSync(join(queue, 'done', `${result.id}.log`), 'utf8'), /died; .* finished it as failed \(runner_system_failure\)/);
    }
    assert.equal(results.find((r) => r.id === a!.id)?.name, 'unit-tests');
    assert.equal(results.find((r) => r.id === a!.id)?.owner, dead);
    assert.ok(!readFileSync(join(queue, 'done', `${a!.id}.json`), 'utf8').includes(SECRET));
    assert.deepEqual(files(join(queue, 'claimed')), [live], 'dead claim directories removed');
    assert.deepEqual(files(join(queue, 'recovering')), []);
    assert.ok(mine && existsSync(mine.path), 'a live claim is left alone');
    assert.deepEqual(await recoverDeadClaims(queue), []);
  } finally {
    cleanup();
  }
});

test("recovery takes over from a dead recoverer and removes dead writers' temp files", async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const dead = `${deadPid()}-1`;
    const deadRecoverer = `${deadPid()}-2`;
    const { id } = await enqueue(queue, job('x'), 'x.toml');
    const claimed = await claimNext(queue, dead);
    assert.ok(claimed);
    const stranded = join(queue, 'recovering', `${dead}@${deadRecoverer}@abc`);
    // As a recoverer that died after its rename would leave it.
    renameSync(join(queue, 'claimed', dead), stranded);
    writeFileSync(join(queue, 'tmp', `${deadRecoverer}.xyz.${id}.json`), '{');
    writeFileSync(join(queue, 'tmp', `${ownerOf()}.xyz.other.json`), '{');
    const results = await recoverDeadClaims(queue);
    assert.deepEqual(results.map((r) => [r.id, r.state, r.failure_reason]), [[id, 'failed', 'runner_system_failure']]);
    assert.deepEqual(files(join(queue, 'recovering')), []);
    assert.deepEqual(files(join(queue, 'tmp')), [`${ownerOf()}.xyz.other.json`]);
  } finally {
    cleanup();
  }
});

test('recoverers racing in one process and in four processes write each result once', async () => {
  const { root, queue, cleanup } = tempQueue();
  try {
    const all = new Set<string>();
    // Pids beyond any pid_max: never alive.
    for (let owner = 0; owner < 8; owner++) {
      for (let i = 0; i < 10; i++) await enqueue(queue, job(`job-${owner}-${i}`), 'x.toml');
      for (let i = 0; i < 10; i++) all.add((await claimNext(queue, `${2_000_000_000 + owner}-7`))!.id);
    }
    const inProcess = await Promise.all([recoverDeadClaims(queue), recoverDeadClaims(queue), recoverDeadClaims(queue)]);
    const first = inProcess.flat().map((r) => r.id);
    assert.equal(first.length, 80);
    assert.deepEqual(new Set(first), all);

    for (let owner = 0; owner < 8; owner++) {
      for (let i = 0; i < 10; i++) await enqueue(queue, job(`again-${owner}-${i}`), 'x.toml');
      for (let i = 0; i < 10; i++) all.add((await claimNext(queue, `${2_000_000_100 + owner}-7`))!.id);
    }
    const outputs = await runWorkers('recover', queue, root, 4);
    const second = outputs.flatMap((o) => o.ids);
    assert.equal(second.length, 80, 'each result written once');
    assert.equal(new Set([...first, ...second]).size, 160);
    assert.deepEqual(files(join(queue, 'claimed')), []);
    assert.deepEqual(files(join(queue, 'recovering')), []);
    assert.equal(files(join(queue, 'done')).filter((f) => f.endsWith('.json')).length, 160);
  } finally {
    cleanup();
  }
});

test('waitForResult resolves when the job ends and gives up after its timeout', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    const { id } = await enqueue(queue, job('waited'), 'w.toml');
    assert.match(
      await rejection(waitForResult(queue, id, { intervalMs: 10, timeoutMs: 50 }), QueueError),
      new RegExp(`^job ${id} in ${queue} did not finish within 50 ms$`),
    );
    const waiting = waitForResult(queue, id, { intervalMs: 10 });
    const claimed = await claimNext(queue);
    assert.ok(claimed);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await finish(queue, claimed, { state: 'canceled', startedAt: claimed.claimedAt });
    const result = await waiting;
    assert.equal(result.state, 'canceled');
    assert.equal(result.failure_reason, null);

    const aborter = new AbortController();
    const { id: other } = await enqueue(queue, job('never'), 'n.toml');
    const aborted = waitForResult(queue, other, { signal: aborter.signal });
    aborter.abort(new Error('stop waiting'));
    await assert.rejects(aborted, /stop waiting/);
  } finally {
    cleanup();
  }
});

test('finish refuses results that make no sense', async () => {
  const { queue, cleanup } = tempQueue();
  try {
    await enqueue(queue, job('x'), 'x.toml');
    const claimed = (await claimNext(queue))!;
    const startedAt = new Date();
    await assert.rejects(finish(queue, claimed, { state: 'failed', startedAt }), /a failed job needs a failure_reason/);
    await assert.rejects(finish(queue, claimed, { state: 'success', failureReason: 'script_failure', startedAt }), /no failure_reason/);
    await assert.rejects(finish(queue, claimed, { state: 'failed', failureReason: 'Bad Reason', startedAt }), /lower_snake_case/);
    assert.ok(existsSync(claimed.path), 'nothing finished');
    assert.equal((await finish(queue, claimed, { state: 'success', exitCode: 0, startedAt })).state, 'success');
  } finally {
    cleanup();
  }
});

test('the local source tells the jobs left pending at its latest look, and each job its queue time from submission', async () => {
  const { queue, cleanup } = tempQueue();
  const source = new LocalQueueSource(queue, { recovered: () => undefined, resultNotWritten: () => undefined });
  try {
    assert.equal(source.pendingJobs(), undefined, 'before its first look it cannot tell');
    assert.equal(await source.request(), undefined);
    assert.equal(source.pendingJobs(), 0);
    const submitted = Date.now();
    for (let i = 0; i < 3; i++) await enqueue(queue, job(`job-${i}`), `${i}.toml`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const first = await source.request();
    assert.equal(source.pendingJobs(), 2);
    const waited = first?.queue?.waitedSeconds ?? -1;
    assert.ok(waited >= 0.04 && waited <= (Date.now() - submitted) / 1000 + 0.01, `waited ${waited}`);
  } finally {
    await source.close();
    cleanup();
  }
});

test('a result that cannot be written (a full disk) is tried again with backoff until it is: the job stays claimed, never lost', async () => {
  const { queue, cleanup } = tempQueue();
  const refused: { id: string; error: string; retryInMs: number }[] = [];
  const source = new LocalQueueSource(queue, {
    recovered: () => undefined,
    resultNotWritten: (id, error, retryInMs) => refused.push({ id, error: error.message, retryInMs }),
  });
  try {
    await enqueue(queue, job('stuck'), 'stuck.toml');
    const claimed = (await source.request())!;
    await claimed.begin({ cancel: () => undefined, abort: () => undefined });
    // What stands in for the full disk: a directory where done/ID.json goes makes every write of it fail.
    const blocker = join(queue, 'done', `${claimed.id}.json`);
    mkdirSync(blocker);
    let finished = false;
    const finishing = claimed.finish(systemFailureResult('the log could not be written: no space left on device'))
      .then(() => {
        finished = true;
      });
    const deadline = Date.now() + 10_000;
    while (refused.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(refused.length >= 2, `tried again: ${JSON.stringify(refused)}`);
    assert.equal(refused[0]!.id, claimed.id);
    assert.equal(refused[0]!.retryInMs, 250);
    assert.equal(refused[1]!.retryInMs, 500, 'backing off');
    assert.equal(finished, false);
    assert.equal(await jobState(queue, claimed.id), 'claimed', 'still claimed, not lost');
    // Room again: the next try writes the result and the claim goes.
    rmSync(blocker, { recursive: true });
    await finishing;
    assert.equal(await jobState(queue, claimed.id), 'done');
    assert.equal((await waitForResult(queue, claimed.id, { timeoutMs: 1_000 })).failure_reason, 'runner_system_failure');
  } finally {
    await source.close();
    cleanup();
  }
});
