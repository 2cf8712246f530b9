// The agent running real jobs from the local queue, driven through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, jobState, readResult, waitForResult } from '../../src/sources/local/queue.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';

function workDir(config: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-agent-'));
  writeFileSync(join(dir, 'config.toml'), `check_interval = 1\n${config}`);
  return dir;
}

function jobToml(name: string, script: readonly string[], extra = ''): string {
  return `name = "${name}"\nscript = ${JSON.stringify(script)}\n${extra}`;
}

async function metric(runner: RunningRunner, series: string): Promise<number | undefined> {
  const body = await (await fetch(`${runner.url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('jobs from the queue run, their results, logs and counters are right, secrets masked', async () => {
  const dir = workDir('');
  const runner = await startRunner([], { cwd: dir });
  try {
    // Before any job the counters read 0, every failure reason included, so
    // that Prometheus's rate() and increase() see the first job and the first failure.
    assert.equal(await metric(runner, 'ci_runner_jobs_total{runner="local"}'), 0);
    for (const reason of ['script_failure', 'job_execution_timeout', 'runner_system_failure', 'unknown_failure']) {
      assert.equal(await metric(runner, `ci_runner_failed_jobs_total{runner="local",failure_reason="${reason}"}`), 0, reason);
    }
    const queue = join(dir, 'queue');
    const ok = await enqueue(
      queue,
      jobToml('ok', ['echo hello $GREETING', 'echo key=$API_KEY'], '[variables]\nGREETING = "world"\nAPI_KEY = { value = "s3cret-value", masked = true }\n'),
      'ok.toml',
    );
    const bad = await enqueue(queue, jobToml('bad', ['echo before', 'exit 3'], 'after_script = ["echo after"]\n'), 'bad.toml');
    const okResult = await waitForResult(queue, ok.id, { timeoutMs: 20_000 });
    const badResult = await waitForResult(queue, bad.id, { timeoutMs: 20_000 });
    assert.equal(okResult.state, 'success');
    assert.equal(badResult.state, 'failed');
    assert.equal(badResult.failure_reason, 'script_failure');
    assert.equal(badResult.exit_code, 3);
    const okLog = readFileSync(join(queue, 'done', `${ok.id}.log`), 'utf8');
    assert.match(
      okLog,
      /^\$ echo hello \$GREETING\nhello world\n\$ echo key=\$API_KEY\nkey=\[MASKED\]\n\n\[runner\] job used \d+\.\d\d s of CPU, peak RSS \d+\.\d MiB \(approximate: sampled every second from \/proc\)\n$/,
    );
    assert.match(
      readFileSync(join(queue, 'done', `${bad.id}.log`), 'utf8'),
      /\$ exit 3\n\$ echo after\nafter\nERROR: Job failed: exit code 3\n\n\[runner\] job used/,
    );
    assert.ok(!readFileSync(join(queue, 'done', `${ok.id}.json`), 'utf8').includes('s3cret'));
    assert.equal(await metric(runner, 'ci_runner_jobs_total{runner="local"}'), 2);
    assert.equal(await metric(runner, 'ci_runner_failed_jobs_total{runner="local",failure_reason="script_failure"}'), 1);
    assert.equal(await metric(runner, 'ci_runner_job_duration_seconds_count{runner="local"}'), 2);
  } finally {
    runner.kill();
  }
});

test("a job's CPU and peak memory are measured, logged and exported", async () => {
  const dir = workDir('');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    // About 2 s of CPU in a grandchild, and a process holding some 100 MiB.
    const { id } = await enqueue(
      queue,
      jobToml('busy', [
        'timeout 2 sh -c "while :; do :; done" || true',
        'head -c 104857600 /dev/zero | tail -c 1 > /dev/null; sleep 1.5',
      ]),
      'busy.toml',
    );
    await waitForResult(queue, id, { timeoutMs: 30_000 });
    const summary = readFileSync(join(queue, 'done', `${id}.log`), 'utf8').match(/job used (\d+\.\d+) s of CPU, peak RSS (\d+\.\d) MiB/);
    assert.ok(summary, 'summary line');
    const cpu = Number(summary[1]);
    assert.ok(cpu >= 1 && cpu < 10, `cpu ${cpu} s`);
    assert.equal(await metric(runner, 'ci_runner_job_cpu_seconds_count{runner="local"}'), 1);
    assert.ok((await metric(runner, 'ci_runner_job_peak_rss_bytes_sum{runner="local"}'))! > 0);
  } finally {
    runner.kill();
  }
});

test('concurrent and limit are never exceeded', async () => {
  const dir = workDir('concurrent = 3\n[[runners]]\nname = "a"\nlimit = 2\n');
  const marks = join(dir, 'marks');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(
        (await enqueue(queue, jobToml(`j${i}`, [`echo "start $(date +%s%N)" >> ${marks}`, 'sleep 0.4', `echo "end $(date +%s%N)" >> ${marks}`]), `j${i}.toml`))
          .id,
      );
    }
    for (const id of ids) assert.equal((await waitForResult(queue, id, { timeoutMs: 30_000 })).state, 'success');
    const events = readFileSync(marks, 'utf8').trim().split('\n').map((line) => {
      const [kind, at] = line.split(' ');
      return { delta: kind === 'start' ? 1 : -1, at: BigInt(at!) };
    }).sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : x.delta - y.delta));
    let running = 0;
    let most = 0;
    for (const event of events) most = Math.max(most, running += event.delta);
    assert.equal(most, 2, 'the runner limit of 2 bounds the jobs running at once');
  } finally {
    runner.kill();
  }
});

test('build-state metrics and the job list follow a running job, and read 0 after it', async () => {
  const dir = workDir('');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, jobToml('sleeper', ['sleep 2']), 'sleeper.toml');
    // The stage changes just before the step's shell starts: wait until its pid is known too.
    const line = await until("the job in step_script with its shell's pid", async () => {
      const list = await (await fetch(`${runner.url}/debug/jobs/list`)).text();
      return /stage=step_script .* pid=\d+/.test(list) ? list : undefined;
    });
    assert.match(
      line,
      new RegExp(
        `^url=\\S+${id}\\.toml state=running stage=step_script executor_stage=step_script duration=\\S+ id=${id} name=sleeper runner=local pid=\\d+\\n$`,
      ),
    );
    assert.equal(await metric(runner, 'ci_runner_builds{runner="local",stage="step_script",state="running"}'), 1);
    assert.equal(await metric(runner, 'ci_runner_builds{runner="local",stage="prepare_executor",state="running"}'), 0);
    assert.ok((await metric(runner, 'ci_runner_job_stage_age_max_seconds{runner="local",stage="step_script"}'))! > 0);
    await waitForResult(queue, id, { timeoutMs: 20_000 });
    await until('the job gone from the list', async () => ((await (await fetch(`${runner.url}/debug/jobs/list`)).text()) === '' ? true : undefined));
    assert.equal(await metric(runner, 'ci_runner_builds{runner="local",stage="step_script",state="running"}'), 0);
    assert.equal(await metric(runner, 'ci_runner_job_stage_age_max_seconds{runner="local",stage="step_script"}'), 0);
  } finally {
    runner.kill();
  }
});

test('SIGTERM cancels running jobs (after_script still runs) and exits 0', async () => {
  const dir = workDir('');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, jobToml('long', ['sleep 60'], 'after_script = ["echo cleaned up"]\n'), 'long.toml');
    await until('the job running', async () => ((await jobState(queue, id)) === 'claimed' ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = await runner.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
    const result = await readResult(queue, id);
    assert.equal(result?.state, 'canceled');
    assert.match(readFileSync(join(queue, 'done', `${id}.log`), 'utf8'), /cleaned up/);
  } finally {
    runner.kill();
  }
});

test('SIGQUIT stops taking jobs, finishes the running one, answers 503 meanwhile, then exits 0', async () => {
  const dir = workDir('');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, jobToml('drain', ['sleep 1.5']), 'drain.toml');
    await until('the job running', async () => ((await jobState(queue, id)) === 'claimed' ? true : undefined));
    process.kill(runner.pid, 'SIGQUIT');
    await until('readiness 503', async () => ((await fetch(`${runner.url}/health/ready`)).status === 503 ? true : undefined));
    const later = await enqueue(queue, jobToml('later', ['true']), 'later.toml');
    const stopped = await runner.stop('SIGQUIT');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal((await readResult(queue, id))?.state, 'success');
    assert.equal(await jobState(queue, later.id), 'pending', 'no new job taken while draining');
  } finally {
    runner.kill();
  }
});

test('SIGHUP reloads concurrent without dropping a running job', async () => {
  const dir = workDir('concurrent = 1\n');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, jobToml('during-reload', ['sleep 1']), 'r.toml');
    await until('the job running', async () => ((await jobState(queue, id)) === 'claimed' ? true : undefined));
    writeFileSync(join(dir, 'config.toml'), 'check_interval = 1\nconcurrent = 4\n');
    process.kill(runner.pid, 'SIGHUP');
    await until('concurrent 4', async () => ((await metric(runner, 'ci_runner_concurrent')) === 4 ? true : undefined));
    assert.equal(await metric(runner, 'ci_runner_configuration_loaded_total'), 2);
    assert.equal(await metric(runner, 'ci_runner_configuration_last_load_successful'), 1);
    assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).state, 'success');
    writeFileSync(join(dir, 'config.toml'), 'concurrent = 0\n');
    process.kill(runner.pid, 'SIGHUP');
    await until('a failed reload counted', async () => ((await metric(runner, 'ci_runner_configuration_loading_error_total')) === 1 ? true : undefined));
    assert.equal(await metric(runner, 'ci_runner_concurrent'), 4, 'a bad file keeps the current configuration');
    rmSync(join(dir, 'config.toml'));
    process.kill(runner.pid, 'SIGHUP');
    await until(
      'a missing file counted as a failed reload',
      async () => ((await metric(runner, 'ci_runner_configuration_loading_error_total')) === 2 ? true : undefined),
    );
    assert.equal(await metric(runner, 'ci_runner_concurrent'), 4, 'a removed config.toml does not switch to the defaults');
    assert.equal(await metric(runner, 'ci_runner_configuration_last_load_successful'), 0, 'the failed reload is still the latest');
    writeFileSync(join(dir, 'config.toml'), 'check_interval = 1\nconcurrent = 2\n');
    process.kill(runner.pid, 'SIGHUP');
    await until('a good file loaded again', async () => ((await metric(runner, 'ci_runner_configuration_last_load_successful')) === 1 ? true : undefined));
    assert.equal(await metric(runner, 'ci_runner_concurrent'), 2);
    assert.equal(await metric(runner, 'ci_runner_configuration_loaded_total'), 3);
  } finally {
    runner.kill();
  }
});

test('a job claimed by a runner that was SIGKILLed is finished as runner_system_failure by the next runner', async () => {
  const dir = workDir('');
  const queue = join(dir, 'queue');
  const first = await startRunner([], { cwd: dir });
  let id: string;
  try {
    ({ id } = await enqueue(queue, jobToml('orphan', ['sleep 60']), 'o.toml'));
    await until('the job running', async () => ((await jobState(queue, id)) === 'claimed' ? true : undefined));
  } finally {
    first.kill();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = await startRunner([], { cwd: dir });
  try {
    const result = await waitForResult(queue, id, { timeoutMs: 20_000 });
    assert.equal(result.state, 'failed');
    assert.equal(result.failure_reason, 'runner_system_failure');
  } finally {
    second.kill();
  }
});

test('a job log that cannot be written (full disk) fails that job as runner_system_failure; the runner goes on', async () => {
  const dir = workDir('');
  const queue = join(dir, 'queue');
  const { id } = await enqueue(queue, jobToml('full-disk', ['echo hello']), 'f.toml');
  mkdirSync(join(queue, 'done'), { recursive: true });
  symlinkSync('/dev/full', join(queue, 'done', `${id}.log`));
  const runner = await startRunner([], { cwd: dir });
  try {
    const result = await waitForResult(queue, id, { timeoutMs: 20_000 });
    assert.equal(result.state, 'failed');
    assert.equal(result.failure_reason, 'runner_system_failure');
    assert.match(runner.logs(), /WARN +Job finished .*system_error="job log: (ENOSPC|No space left on device)/);
    const next = await enqueue(queue, jobToml('next', ['true']), 'n.toml');
    assert.equal((await waitForResult(queue, next.id, { timeoutMs: 20_000 })).state, 'success');
  } finally {
    runner.kill();
  }
});

test('a cancel during a SIGQUIT drain is bounded by shutdown_timeout, which kills what ignores SIGTERM', async () => {
  const dir = workDir('shutdown_timeout = 2\n');
  const runner = await startRunner([], { cwd: dir });
  const queue = join(dir, 'queue');
  try {
    const { id } = await enqueue(queue, jobToml('stubborn', ["trap '' TERM", 'sleep 300 & echo "bg $!"', 'wait'], 'after_script = ["sleep 30"]\n'), 's.toml');
    await until('the job running', async () => ((await jobState(queue, id)) === 'claimed' ? true : undefined));
    const logPath = join(queue, 'done', `${id}.log`);
    const bg = await until('the background pid', async () => {
      const found = /bg (\d+)/.exec(existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
      return found ? Number(found[1]) : undefined;
    });
    process.kill(runner.pid, 'SIGQUIT');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = await runner.stop('SIGTERM');
    assert.equal(stopped.code, 1, 'exits 1 when shutdown_timeout cut the shutdown short');
    assert.match(stopped.stderr, /Shutdown took longer than shutdown_timeout/);
    await until('the ignoring process gone', async () => (processGone(bg) ? true : undefined), 5_000);
  } finally {
    runner.kill();
  }
});

function processGone(pid: number): boolean {
  try {
    // A zombie waiting for its reaper counts as gone.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}
