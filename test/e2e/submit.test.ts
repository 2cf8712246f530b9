// `runner submit` as users run it: a child process on the test's runtime, in a
// temporary working directory. For --wait this test process plays the runner,
// claiming the job from the queue and writing its log in pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJobFile } from '../../src/sources/local/job-file.ts';
import { isJobId } from '../../src/sources/local/job-id.ts';
import { type ClaimedJob, claimNext, finish, type JobOutcome, jobState, markLooked, openJobLog, ownerOf, readResult } from '../../src/sources/local/queue.ts';
import { collectOutput } from '../support/child-output.ts';
import { type CliResult, runCli, runnerArgv, startRunner } from '../support/runner-process.ts';
import { assertOneLineError } from '../support/assertions.ts';
import { shellWord } from '../../src/cli/queue-command-line.ts';

const SECRET = 's3cretvalue-only-in-the-queued-file';

interface Workspace {
  readonly dir: string;
  /** The default config's queue: queue/ under the working directory. */
  readonly queue: string;
  write(name: string, text: string): string;
  cleanup(): void;
}

function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'runner-submit-'));
  return {
    dir,
    queue: join(dir, 'queue'),
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const jobText = (name: string): string =>
  `# a comment
name = "${name}"
script = ["echo hello", "true"]
timeout = "10m"
[variables]
GREETING = "hello"
API_KEY = { value = "${SECRET}", masked = true }
`;

const pending = (queue: string): string[] => {
  const dir = join(queue, 'pending');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Claims the next job of `queue` as a runner would, waiting for one to be queued. */
async function claimWhenQueued(queue: string): Promise<ClaimedJob> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = existsSync(join(queue, 'pending')) ? await claimNext(queue) : undefined;
    if (job) return job;
    if (Date.now() > deadline) throw new Error(`no job was queued in ${queue} within 30 s`);
    await sleep(20);
  }
}

/** A running `runner submit` whose output can be looked at before it exits. */
interface Submitter {
  stdout(): string;
  /** Resolves once stdout includes `text`. */
  waitForStdout(text: string): Promise<void>;
  /** Resolves once stderr includes `text`. */
  waitForStderr(text: string): Promise<void>;
  interrupt(): void;
  done: Promise<CliResult>;
}

async function waitForOutput(stream: () => string, text: string, output: { stdout(): string; stderr(): string }): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!stream().includes(text)) {
    if (Date.now() > deadline) {
      throw new Error(`submit did not print ${JSON.stringify(text)} within 30 s; stdout:\n${output.stdout()}\nstderr:\n${output.stderr()}`);
    }
    await sleep(10);
  }
}

function startSubmit(args: readonly string[], cwd: string): Submitter {
  const [command, ...argv] = runnerArgv(['submit', ...args]);
  const child = spawn(command, argv, { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  return {
    stdout: output.stdout,
    waitForStdout: (text) => waitForOutput(output.stdout, text, output),
    waitForStderr: (text) => waitForOutput(output.stderr, text, output),
    // process.kill, not child.kill: Deno reports a child signalled through
    // child.kill() as killed by the signal even when it handled it.
    interrupt: () => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGINT');
    },
    done: output.done,
  };
}

/** Plays the runner for one job: claims it, writes `pieces` to its log with pauses, finishes it. */
async function runJobInTest(
  queue: string,
  pieces: readonly string[],
  outcome: Omit<JobOutcome, 'startedAt'>,
  afterPiece?: (index: number) => Promise<void>,
): Promise<ClaimedJob> {
  const job = await claimWhenQueued(queue);
  // The submitter is already waiting, with no log file yet.
  await sleep(300);
  const log = await openJobLog(job);
  try {
    for (const [index, piece] of pieces.entries()) {
      await log.appendFile(piece);
      await afterPiece?.(index);
      await sleep(250);
    }
  } finally {
    await log.close();
  }
  await finish(queue, job, { ...outcome, startedAt: job.claimedAt });
  return job;
}

test('submit prints the job id and queues the file as is, mode 0600', async () => {
  const ws = workspace();
  try {
    const file = ws.write('job.toml', jobText('unit-tests'));
    const { code, stdout, stderr } = await runCli(['submit', 'job.toml'], { cwd: ws.dir });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    const lines = stdout.split('\n');
    assert.equal(lines.length, 2, stdout);
    assert.equal(lines[1], '');
    const id = lines[0]!;
    assert.ok(isJobId(id), id);
    assert.deepEqual(pending(ws.queue), [`${id}.toml`]);
    const queued = join(ws.queue, 'pending', `${id}.toml`);
    assert.equal(statSync(queued).mode & 0o777, 0o600);
    const text = readFileSync(queued, 'utf8');
    assert.equal(text, readFileSync(file, 'utf8'));
    assert.deepEqual(parseJobFile(text, queued), parseJobFile(readFileSync(file, 'utf8'), file));
    assert.equal(await jobState(ws.queue, id), 'pending');
  } finally {
    ws.cleanup();
  }
});

test('several files are queued in order, one id a line', async () => {
  const ws = workspace();
  try {
    const names = ['first', 'second', 'third'];
    for (const name of names) ws.write(`${name}.toml`, jobText(name));
    const { code, stdout, stderr } = await runCli(['submit', ...names.map((n) => `${n}.toml`)], { cwd: ws.dir });
    assert.equal(code, 0, stderr);
    const ids = stdout.trimEnd().split('\n');
    assert.equal(ids.length, 3, stdout);
    assert.deepEqual([...ids].sort(), ids, 'ids sort in submission order');
    assert.equal(new Set(ids).size, 3);
    assert.deepEqual(pending(ws.queue), ids.map((id) => `${id}.toml`));
    for (const [i, id] of ids.entries()) {
      const path = join(ws.queue, 'pending', `${id}.toml`);
      assert.equal(parseJobFile(readFileSync(path, 'utf8'), path).name, names[i]);
    }
  } finally {
    ws.cleanup();
  }
});

test('one bad file among good ones queues nothing: exit 2 with file:line:column', async () => {
  const ws = workspace();
  try {
    ws.write('good.toml', jobText('good'));
    ws.write('bad.toml', 'name = "bad"\nscript = ["true"\n');
    ws.write('later.toml', jobText('later'));
    const { code, stdout, stderr } = await runCli(['submit', 'good.toml', 'bad.toml', 'later.toml'], { cwd: ws.dir });
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assertOneLineError(stderr, 'bad.toml:3:1', 'TOML syntax error');
    assert.deepEqual(pending(ws.queue), []);

    ws.write('invalid.toml', 'name = "no script"\n');
    const missing = await runCli(['submit', 'good.toml', 'invalid.toml'], { cwd: ws.dir });
    assert.equal(missing.code, 2);
    assertOneLineError(missing.stderr, 'invalid.toml', 'script');
    const absent = await runCli(['submit', 'good.toml', 'absent.toml'], { cwd: ws.dir });
    assert.equal(absent.code, 2);
    assertOneLineError(absent.stderr, 'absent.toml', 'no such file');
    // A value holding a line or paragraph separator (or NEL) is shown escaped, on the error's one line.
    ws.write('separated.toml', 'name = "separated"\nscript = ["true"]\ntimeout = "1 h\u2028\u2029\u0085later"\n');
    const separated = await runCli(['submit', 'separated.toml'], { cwd: ws.dir });
    assert.equal(separated.code, 2);
    assertOneLineError(separated.stderr, 'separated.toml', 'timeout', String.raw`"1 h\u2028\u2029\u0085later"`);
    assert.deepEqual(pending(ws.queue), []);
  } finally {
    ws.cleanup();
  }
});

test('--runner picks the queue; an unknown runner is a usage error naming the runners', async () => {
  const ws = workspace();
  try {
    ws.write('job.toml', jobText('unit-tests'));
    ws.write(
      'config.toml',
      [
        '[[runners]]',
        'name = "alpha"',
        'executor = "shell"',
        'queue_dir = "queue-alpha"',
        '[[runners]]',
        'name = "beta"',
        'executor = "shell"',
        'queue_dir = "queue-beta"',
        '',
      ].join('\n'),
    );
    const unknown = await runCli(['submit', '--runner', 'nope', 'job.toml'], { cwd: ws.dir });
    assert.equal(unknown.code, 2);
    assertOneLineError(unknown.stderr, '"nope"', '"alpha"', '"beta"');
    assert.equal(existsSync(join(ws.dir, 'queue-alpha')) || existsSync(join(ws.dir, 'queue-beta')), false);

    const beta = await runCli(['submit', '--runner=beta', 'job.toml'], { cwd: ws.dir });
    assert.equal(beta.code, 0, beta.stderr);
    assert.deepEqual(pending(join(ws.dir, 'queue-beta')), [`${beta.stdout.trim()}.toml`]);
    const first = await runCli(['submit', 'job.toml'], { cwd: ws.dir });
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(pending(join(ws.dir, 'queue-alpha')), [`${first.stdout.trim()}.toml`]);
  } finally {
    ws.cleanup();
  }
});

test('--config and --working-directory: the queue is resolved against the working directory', async () => {
  const ws = workspace();
  try {
    ws.write('job.toml', jobText('unit-tests'));
    ws.write('other.toml', '[[runners]]\nname = "other"\nexecutor = "shell"\nqueue_dir = "jobs"\n');
    mkdirSync(join(ws.dir, 'work'));
    const { code, stdout, stderr } = await runCli(['submit', '-c', 'other.toml', '-d', 'work', 'job.toml'], { cwd: ws.dir });
    assert.equal(code, 0, stderr);
    assert.deepEqual(pending(join(ws.dir, 'work', 'jobs')), [`${stdout.trim()}.toml`]);
    const noDir = await runCli(['submit', '-d', 'absent', 'job.toml'], { cwd: ws.dir });
    assert.equal(noDir.code, 2);
    assertOneLineError(noDir.stderr, '"absent"', 'does not exist');
  } finally {
    ws.cleanup();
  }
});

test('usage errors: no job file, an unknown flag, an empty --runner', async () => {
  const ws = workspace();
  try {
    const none = await runCli(['submit'], { cwd: ws.dir });
    assert.equal(none.code, 2);
    assertOneLineError(none.stderr, 'no job file');
    const waitOnly = await runCli(['submit', '--wait'], { cwd: ws.dir });
    assert.equal(waitOnly.code, 2);
    assertOneLineError(waitOnly.stderr, 'no job file');
    const bogus = await runCli(['submit', '--bogus', 'job.toml'], { cwd: ws.dir });
    assert.equal(bogus.code, 2);
    assertOneLineError(bogus.stderr, '--bogus', 'runner submit --help');
    const empty = await runCli(['submit', '--runner=', 'job.toml'], { cwd: ws.dir });
    assert.equal(empty.code, 2);
    assertOneLineError(empty.stderr, '--runner is empty');
    assert.equal(existsSync(ws.queue), false);
    const help = await runCli(['submit', '--help'], { cwd: ws.dir });
    assert.equal(help.code, 0);
    for (const flag of ['--config', '--runner', '--working-directory', '--wait']) assert.ok(help.stdout.includes(flag), flag);
    const main = await runCli(['--help'], { cwd: ws.dir });
    assert.ok(main.stdout.includes('runner submit'), main.stdout);
  } finally {
    ws.cleanup();
  }
});

test('--wait streams the log as it grows and exits 0 when the job succeeds', async () => {
  const ws = workspace();
  try {
    ws.write('job.toml', jobText('streamed'));
    const submit = startSubmit(['--wait', 'job.toml'], ws.dir);
    const big = `${'0123456789abcdef'.repeat(4096 * 5)}\n`; // 320 KiB: several read chunks
    const pieces = ['$ echo hello\nhello\n', 'partial line, no newline yet', ` ... ünïcödé ✓\n${big}`, '$ true\n'];
    const job = await runJobInTest(ws.queue, pieces, { state: 'success', exitCode: 0 }, async (index) => {
      // Streamed: each piece reaches stdout before the next is written.
      const tail = pieces[index]!.slice(-40);
      await submit.waitForStdout(tail);
    });
    const { code, stdout, stderr } = await submit.done;
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `${job.id}\n${pieces.join('')}`, 'stdout: the id, then exactly the log');
    assert.equal(stderr, `job ${job.id} streamed: success\n`);
    assert.ok(!stdout.includes(SECRET));
  } finally {
    ws.cleanup();
  }
});

test('--wait exits 1 with the reason and exit code when the job fails', async () => {
  const ws = workspace();
  try {
    ws.write('job.toml', jobText('failing'));
    const result = runCli(['submit', '--wait', 'job.toml'], { cwd: ws.dir, timeoutMs: 60_000 });
    const pieces = ['$ echo hello\nhello\n', '$ false\n', 'ERROR: Job failed: exit status 3\n'];
    const job = await runJobInTest(ws.queue, pieces, { state: 'failed', failureReason: 'script_failure', exitCode: 3 });
    const { code, stdout, stderr } = await result;
    assert.equal(code, 1, stderr);
    assert.equal(stdout, `${job.id}\n${pieces.join('')}`);
    assert.equal(stderr, `job ${job.id} failing: failed (script_failure, exit code 3)\n`);
  } finally {
    ws.cleanup();
  }
});

test('--wait with several jobs: logs in order, a summary each, exit 1 if any did not succeed', async () => {
  const ws = workspace();
  try {
    ws.write('a.toml', jobText('job-a'));
    ws.write('b.toml', jobText('job-b'));
    const result = runCli(['submit', '--wait', 'a.toml', 'b.toml'], { cwd: ws.dir, timeoutMs: 60_000 });
    const first = await runJobInTest(ws.queue, ['log of a\n'], { state: 'canceled' });
    const second = await runJobInTest(ws.queue, ['log of b\n', 'more of b\n'], { state: 'success', exitCode: 0 });
    const { code, stdout, stderr } = await result;
    assert.equal(code, 1, stderr);
    assert.equal(stdout, `${first.id}\n${second.id}\nlog of a\nlog of b\nmore of b\n`);
    assert.equal(stderr, `job ${first.id} job-a: canceled\njob ${second.id} job-b: success\n`);
  } finally {
    ws.cleanup();
  }
});

test('SIGINT while waiting stops waiting with exit 130 and leaves the job queued', async () => {
  const ws = workspace();
  try {
    ws.write('job.toml', jobText('left-alone'));
    const submit = startSubmit(['--wait', 'job.toml'], ws.dir);
    await submit.waitForStdout('\n');
    const id = submit.stdout().trim();
    await sleep(300);
    submit.interrupt();
    const { code, stdout, stderr } = await submit.done;
    assert.equal(code, 130, stderr);
    assert.equal(stdout, `${id}\n`);
    assertOneLineError(stderr, 'stopped waiting', id, `'runner cancel ${id}'`);
    assert.equal(await jobState(ws.queue, id), 'pending');
  } finally {
    ws.cleanup();
  }
});

test('--wait on a queue no live runner serves warns, naming the queue; Ctrl-C then says how to remove the job', async () => {
  const ws = workspace();
  try {
    ws.write('job.toml', jobText('unserved'));
    // A claim directory of a process that cannot exist (its pid is above pid_max): a dead runner serves nobody.
    mkdirSync(join(ws.queue, 'claimed', '4194305-12345'), { recursive: true });
    const submit = startSubmit(['--wait', 'job.toml'], ws.dir);
    await submit.waitForStdout('\n');
    const id = submit.stdout().trim();
    await submit.waitForStderr('no live runner serves');
    submit.interrupt();
    const { code, stderr } = await submit.done;
    assert.equal(code, 130, stderr);
    const [warning, interrupted, ...rest] = stderr.trimEnd().split('\n');
    assert.deepEqual(rest, []);
    assert.equal(
      warning,
      `runner: warning: job ${id} is pending in queue ${ws.queue}, which no live runner serves: ` +
        `start 'runner run' with this queue_dir; Ctrl-C stops waiting, 'runner cancel ${id}' removes the job`,
    );
    assert.equal(
      interrupted,
      `runner: interrupted: stopped waiting; job ${id} stays in queue ${ws.queue} ('runner list' shows it; 'runner cancel ${id}' removes it if still pending)`,
    );
    assert.equal(await jobState(ws.queue, id), 'pending');
  } finally {
    ws.cleanup();
  }
});

/**
 * `runner submit --wait` of one job to a queue this test process serves as a
 * live runner (its claim directory, as claimNext makes it, but no claim), until
 * the notice naming the runner: the job's id and submit's stderr.
 */
async function servedNotice(ws: Workspace, name: string, afterQueued: () => Promise<void>): Promise<{ id: string; stderr: string }> {
  ws.write('job.toml', jobText(name));
  mkdirSync(join(ws.queue, 'claimed', ownerOf()), { recursive: true });
  const submit = startSubmit(['--wait', 'job.toml'], ws.dir);
  await submit.waitForStdout('\n');
  const id = submit.stdout().trim();
  await afterQueued();
  await submit.waitForStderr('served by');
  submit.interrupt();
  return { id, stderr: (await submit.done).stderr };
}

test('--wait on a queue a live but busy runner serves names that runner, once it has looked at the queue and left the job', async () => {
  const ws = workspace();
  try {
    // A turn of a busy runner's loop after the job was queued: it looks at the queue (markLooked) and takes nothing.
    const { id, stderr } = await servedNotice(ws, 'busy', () => markLooked(ws.queue));
    assert.match(
      stderr,
      new RegExp(
        `^runner: job ${id} is pending in queue ${ws.queue}, served by runner process ${process.pid}: it polled the queue since and left the job there \\(busy with other jobs, at its limit, or the job's needs have not ended\\); 'runner list' shows the queue$`,
        'm',
      ),
    );
    assert.doesNotMatch(stderr, /warning|not polled/);
  } finally {
    ws.cleanup();
  }
});

test('--wait names a serving runner that has not polled the queue for longer than check_interval explains', async () => {
  const ws = workspace();
  try {
    ws.write('config.toml', 'check_interval = 0.5\n');
    // The runner looked at the queue once (its claim directory made), before the job was queued, and never since.
    const { id, stderr } = await servedNotice(ws, 'unpolled', async () => {});
    assert.match(
      stderr,
      new RegExp(
        `^runner: job ${id} is pending in queue ${ws.queue}, served by runner process ${process.pid}: it has not polled the queue yet since the job was queued [0-9]+s ago ` +
          `\\(a check_interval longer than 0\\.5s, a pause after failed requests, or a hang: its log tells\\); 'runner list' shows the queue$`,
        'm',
      ),
    );
    assert.doesNotMatch(stderr, /busy/);
  } finally {
    ws.cleanup();
  }
});

test('--wait to an idle runner says nothing about pending while the job waits only for its next poll', async () => {
  const ws = workspace();
  // 5 s between polls: the job waits up to that long for an idle runner, which is no reason to speak.
  ws.write('config.toml', 'check_interval = 5\n');
  ws.write('job.toml', 'name = "hello"\nscript = ["echo hello from the runner"]\n');
  const runner = await startRunner([], { cwd: ws.dir, env: { HOME: ws.dir } });
  try {
    // The runner has polled once (its claim directory exists); the next poll is up to 5 s away.
    const claimed = join(ws.queue, 'claimed');
    const deadline = Date.now() + 30_000;
    while (!(existsSync(claimed) && readdirSync(claimed).length > 0)) {
      if (Date.now() > deadline) throw new Error(`the runner did not poll ${ws.queue} within 30 s; its log:\n${runner.logs()}`);
      await sleep(20);
    }
    const { code, stdout, stderr } = await runCli(['submit', '--wait', 'job.toml'], { cwd: ws.dir });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /hello from the runner/);
    assert.match(stderr, /^job \S+ hello: success$/m);
    assert.doesNotMatch(stderr, /pending|polled/);
  } finally {
    await runner.stop('SIGTERM');
    ws.cleanup();
  }
});

test('Ctrl-C on a non-default queue: the hints repeat the queue flags as given, and the cancel they name works', async () => {
  const ws = workspace();
  try {
    mkdirSync(join(ws.dir, 'ci config'));
    ws.write('ci config/runner.toml', '[[runners]]\nname = "alpha"\nqueue_dir = "qa"\n\n[[runners]]\nname = "beta"\nqueue_dir = "qb"\n');
    ws.write('b.toml', jobText('on-beta'));
    const flags = ['-c', 'ci config/runner.toml', '-r', 'beta'];
    const submit = startSubmit([...flags, '--wait', 'b.toml'], ws.dir);
    await submit.waitForStdout('\n');
    const id = submit.stdout().trim();
    await sleep(300);
    submit.interrupt();
    const { code, stderr } = await submit.done;
    assert.equal(code, 130, stderr);
    const queue = join(ws.dir, 'qb');
    assert.equal(
      stderr,
      `runner: interrupted: stopped waiting; job ${id} stays in queue ${queue} ` +
        `('runner list -c "ci config/runner.toml" -r beta' shows it; 'runner cancel -c "ci config/runner.toml" -r beta ${id}' removes it if still pending)\n`,
    );
    // The hint as a user pastes it into a shell, `runner` being this CLI on this runtime.
    const hint = /'(runner cancel .*)' removes it/.exec(stderr)![1]!;
    const cli = runnerArgv([]).map(shellWord).join(' ');
    const pasted = spawnSync('sh', ['-c', hint.replace(/^runner /, `${cli} `)], { cwd: ws.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(pasted.status, 0, pasted.stderr);
    assert.equal(pasted.stdout, `job ${id} on-beta: canceled (removed from the queue)\n`);
    assert.equal((await readResult(queue, id))?.state, 'canceled');
  } finally {
    ws.cleanup();
  }
});

test('a typo in a job file: exit 2, the allowed keys and the likely one, nothing queued', async () => {
  const ws = workspace();
  try {
    ws.write('typo.toml', 'name = "typo"\nscirpt = ["make"]\n');
    const { code, stdout, stderr } = await runCli(['submit', 'typo.toml'], { cwd: ws.dir });
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    assertOneLineError(stderr, 'typo.toml: unknown key scirpt (did you mean script?): a job file has only name, script,');
    assert.deepEqual(pending(ws.queue), []);
  } finally {
    ws.cleanup();
  }
});

test("runner list shows the queue's running and pending jobs, who runs them, and who serves the queue", async () => {
  const ws = workspace();
  try {
    ws.write('a.toml', jobText('first-job'));
    ws.write('b.toml', jobText('second-job'));
    const submitted = await runCli(['submit', 'a.toml', 'b.toml'], { cwd: ws.dir });
    assert.equal(submitted.code, 0, submitted.stderr);
    const [first, second] = submitted.stdout.trim().split('\n');
    const running = await claimNext(ws.queue);
    assert.equal(running?.id, first);
    const { code, stdout, stderr } = await runCli(['list'], { cwd: ws.dir });
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
    assert.deepEqual(lines[0], ['ID', 'STATE', 'CLAIMED BY', 'AGE', 'NAME']);
    assert.deepEqual(lines.slice(1).map(([id, state, by, , name]) => [id, state, by, name]), [
      [first, 'running', `pid ${process.pid}`, 'first-job'],
      [second, 'pending', '-', 'second-job'],
    ]);
    for (const [, , , age] of lines.slice(1)) assert.match(age!, /^\d+s$/);
    assert.equal(stderr, `queue ${ws.queue}: 2 jobs; served by runner process ${process.pid}\n`);
    await finish(ws.queue, running!, { state: 'success', exitCode: 0, startedAt: running!.claimedAt });
    await runCli(['cancel', second!], { cwd: ws.dir });
    rmSync(join(ws.queue, 'claimed'), { recursive: true });
    const empty = await runCli(['list'], { cwd: ws.dir });
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, `queue ${ws.queue}: no job pending or running; no live runner serves it\n`);
  } finally {
    ws.cleanup();
  }
});

test('runner cancel removes a pending job and records it canceled; a running, ended, unknown or malformed id is refused', async () => {
  const ws = workspace();
  try {
    ws.write('a.toml', jobText('runs'));
    ws.write('b.toml', jobText('waits'));
    const [runningId, pendingId] = (await runCli(['submit', 'a.toml', 'b.toml'], { cwd: ws.dir })).stdout.trim().split('\n');
    // A follower of the pending job, as a user's other terminal would be.
    const follower = startSubmit(['--wait', 'b.toml'], ws.dir);
    await follower.waitForStdout('\n');
    const running = await claimNext(ws.queue);
    assert.equal(running?.id, runningId);

    const canceled = await runCli(['cancel', pendingId!], { cwd: ws.dir });
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal(canceled.stdout, `job ${pendingId} waits: canceled (removed from the queue)\n`);
    assert.equal(await jobState(ws.queue, pendingId!), 'done');
    assert.equal((await readResult(ws.queue, pendingId!))?.state, 'canceled');
    assert.ok(!pending(ws.queue).includes(`${pendingId}.toml`));
    assert.ok(!readdirSync(join(ws.queue, 'tmp')).some((name) => name.includes(pendingId!)), 'the job file (it may hold masked values) is gone');

    const again = await runCli(['cancel', pendingId!], { cwd: ws.dir });
    assert.equal(again.code, 1);
    assertOneLineError(again.stderr, `job ${pendingId} has already ended (canceled)`);
    const started = await runCli(['cancel', runningId!], { cwd: ws.dir });
    assert.equal(started.code, 1);
    assertOneLineError(started.stderr, `job ${runningId} is running in runner process ${process.pid}`, 'cannot cancel a job that has started', 'SIGINT');
    assert.equal(await jobState(ws.queue, runningId!), 'claimed', 'a running job is left alone');
    const unknown = await runCli(['cancel', '0mwrea97y-h22-00002a-9c41e07fd2'], { cwd: ws.dir });
    assert.equal(unknown.code, 1);
    assertOneLineError(unknown.stderr, 'no job 0mwrea97y-h22-00002a-9c41e07fd2 in queue', "'runner list'");
    const malformed = await runCli(['cancel', '../pending/x'], { cwd: ws.dir });
    assert.equal(malformed.code, 2);
    assertOneLineError(malformed.stderr, '"../pending/x" is not a job id');
    const none = await runCli(['cancel'], { cwd: ws.dir });
    assert.equal(none.code, 2);
    assertOneLineError(none.stderr, 'no job id given');

    // The second submission of b.toml is still pending; cancel it too, and the follower of the first ends.
    const { code: followerCode, stderr: followerErr } = await (async () => {
      const second = follower.stdout().trim();
      await runCli(['cancel', second], { cwd: ws.dir });
      return follower.done;
    })();
    assert.equal(followerCode, 1, followerErr);
    assert.match(followerErr, /: canceled\n$/);
    await finish(ws.queue, running!, { state: 'success', exitCode: 0, startedAt: running!.claimedAt });
  } finally {
    ws.cleanup();
  }
});
