// The agent running real jobs from the local queue, driven through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, jobState, readResult, waitForResult } from '../../src/sources/local/queue.ts';
import { versionInfo } from '../../src/version.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';

function workDir(config: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-agent-'));
  writeFileSync(join(dir, 'config.toml'), `check_interval = 1\n${config}`);
  return dir;
}

/**
 * `runner run` in `dir`, with HOME there too: each stage is a login shell,
 * which sources ~/.profile, and the tests must not depend on (or wait for)
 * the profile of whoever runs them.
 */
function start(dir: string): Promise<RunningRunner> {
  return startRunner([], { cwd: dir, env: { HOME: dir } });
}

/** GitLab Runner's runner-side line (Println) and stage title, as bytes in the log. */
const plain = (text: string): string => `\x1b[0K${text}\x1b[0;m\n`;
const titled = (text: string): string => `\x1b[0K\x1b[36;1m${text}\x1b[0;m\x1b[0;m\n`;
/** A `$ command` line the script echoes before it runs the command (bold green). */
const announced = (command: string): string => `\x1b[32;1m$ ${command}\x1b[0;m\n`;
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A regular expression matching `parts` in order: strings literally, RegExps as they are. */
function inOrder(parts: ReadonlyArray<string | RegExp>, flags = ''): RegExp {
  return new RegExp(parts.map((part) => (typeof part === 'string' ? escape(part) : part.source)).join(''), flags);
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
  const runner = await start(dir);
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
    // GitLab Runner's framing, byte for byte (a local job: no token, so no "on NAME TOKEN" line; no timestamps, no sections).
    const header = [
      plain(`Running with ${versionInfo.name} ${versionInfo.version} (${versionInfo.revision.slice(0, 8)})`),
      titled('Preparing the "shell" executor'),
      plain('Using Shell (bash) executor...'),
      titled('Preparing environment'),
      /Running on [^\n]+\.\.\.\n/,
    ];
    // The one line the runner adds to GitLab's framing, as a runner-side line.
    const resources = ['\x1b[0K', /Job used \d+\.\d\d s of CPU, peak RSS \d+\.\d MiB \(approximate: sampled every second from \/proc\)/, '\x1b[0;m\n'];
    const cleanup = titled('Cleaning up project directory and file based variables');
    assert.match(
      readFileSync(join(queue, 'done', `${ok.id}.log`), 'utf8'),
      inOrder([
        /^/,
        ...header,
        titled('Executing "step_script" stage of the job script'),
        announced('echo hello $GREETING'),
        'hello world\n',
        announced('echo key=$API_KEY'),
        'key=[MASKED]\n',
        cleanup,
        ...resources,
        '\x1b[32;1mJob succeeded\x1b[0;m\n',
        /$/,
      ]),
    );
    assert.match(
      readFileSync(join(queue, 'done', `${bad.id}.log`), 'utf8'),
      inOrder([
        /^/,
        ...header,
        titled('Executing "step_script" stage of the job script'),
        announced('echo before'),
        'before\n',
        announced('exit 3'),
        titled('Running after_script'),
        '\x1b[32;1mRunning after script...\x1b[0;m\n',
        announced('echo after'),
        'after\n',
        cleanup,
        ...resources,
        '\x1b[31;1mERROR: Job failed: exit status 3\x1b[0;m\n',
        /$/,
      ]),
    );
    assert.ok(!readFileSync(join(queue, 'done', `${ok.id}.json`), 'utf8').includes('s3cret'));
    assert.equal(await metric(runner, 'ci_runner_jobs_total{runner="local"}'), 2);
    assert.equal(await metric(runner, 'ci_runner_failed_jobs_total{runner="local",failure_reason="script_failure"}'), 1);
    assert.equal(await metric(runner, 'ci_runner_job_duration_seconds_count{runner="local"}'), 2);
    // Queue time from each job's submission to its claim; the pending gauge from the latest poll.
    assert.equal(await metric(runner, 'ci_runner_job_queue_duration_seconds_count{runner="local"}'), 2);
    assert.equal(await metric(runner, 'ci_runner_job_queue_duration_seconds_bucket{runner="local",le="3600"}'), 2);
    assert.equal(
      await until('an empty pending queue', async () => (await metric(runner, 'ci_runner_local_queue_pending_jobs{runner="local"}')) === 0 ? true : undefined),
      true,
    );
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a job's CPU and peak memory are measured, logged and exported", async () => {
  const dir = workDir('');
  const runner = await start(dir);
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
    const summary = readFileSync(join(queue, 'done', `${id}.log`), 'utf8').match(/Job used (\d+\.\d+) s of CPU, peak RSS (\d+\.\d) MiB/);
    assert.ok(summary, 'summary line');
    const cpu = Number(summary[1]);
    assert.ok(cpu >= 1 && cpu < 10, `cpu ${cpu} s`);
    assert.equal(await metric(runner, 'ci_runner_job_cpu_seconds_count{runner="local"}'), 1);
    assert.ok((await metric(runner, 'ci_runner_job_peak_rss_bytes_sum{runner="local"}'))! > 0);
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('concurrent and limit are never exceeded', async () => {
  const dir = workDir('concurrent = 3\n[[runners]]\nname = "a"\nlimit = 2\n');
  const marks = join(dir, 'marks');
  const runner = await start(dir);
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
    rmSync(dir, { recursive: true, force: true });
  }
});

test('build-state metrics and the job list follow a running job, and read 0 after it', async () => {
  const dir = workDir('');
  const runner = await start(dir);
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
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM cancels running jobs (after_script still runs) and exits 0', async () => {
  const dir = workDir('');
  const runner = await start(dir);
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
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGQUIT stops taking jobs, finishes the running one, answers 503 meanwhile, then exits 0', async () => {
  const dir = workDir('');
  const runner = await start(dir);
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
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP reloads concurrent without dropping a running job', async () => {
  const dir = workDir('concurrent = 1\n');
  const runner = await start(dir);
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
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job claimed by a runner that was SIGKILLed is finished as runner_system_failure by the next runner', async () => {
  const dir = workDir('');
  const queue = join(dir, 'queue');
  const first = await start(dir);
  let id: string;
  try {
    ({ id } = await enqueue(queue, jobToml('orphan', ['sleep 60']), 'o.toml'));
    await until('the job running', async () => ((await jobState(queue, id)) === 'claimed' ? true : undefined));
  } finally {
    first.kill();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = await start(dir);
  try {
    const result = await waitForResult(queue, id, { timeoutMs: 20_000 });
    assert.equal(result.state, 'failed');
    assert.equal(result.failure_reason, 'runner_system_failure');
  } finally {
    second.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job log that cannot be written (full disk) fails that job as runner_system_failure; the runner goes on', async () => {
  const dir = workDir('');
  const queue = join(dir, 'queue');
  const { id } = await enqueue(queue, jobToml('full-disk', ['echo hello']), 'f.toml');
  mkdirSync(join(queue, 'done'), { recursive: true });
  symlinkSync('/dev/full', join(queue, 'done', `${id}.log`));
  const runner = await start(dir);
  try {
    const result = await waitForResult(queue, id, { timeoutMs: 20_000 });
    assert.equal(result.state, 'failed');
    assert.equal(result.failure_reason, 'runner_system_failure');
    assert.match(runner.logs(), /WARN +Job finished .*system_error="job log: (ENOSPC|No space left on device)/);
    const next = await enqueue(queue, jobToml('next', ['true']), 'n.toml');
    assert.equal((await waitForResult(queue, next.id, { timeoutMs: 20_000 })).state, 'success');
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancel during a SIGQUIT drain is bounded by shutdown_timeout, which kills what ignores SIGTERM', async () => {
  const dir = workDir('shutdown_timeout = 2\n');
  const runner = await start(dir);
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
    rmSync(dir, { recursive: true, force: true });
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

test("a local job's directory is its own (empty, mode 0700, under builds_dir) and is removed after it", async () => {
  const dir = workDir('');
  const runner = await start(dir);
  try {
    const queue = join(dir, 'queue');
    const script = ['echo "dir=$CI_PROJECT_DIR builds=$CI_BUILDS_DIR pwd=$(pwd) mode=$(stat -c %a .) entries=$(ls -A | wc -l)"', 'echo made > file.txt'];
    const [first, second] = [await enqueue(queue, jobToml('first', script), 'a.toml'), await enqueue(queue, jobToml('second', script), 'b.toml')];
    for (const { id } of [first, second]) {
      assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).state, 'success');
      const projectDir = join(dir, 'builds', id);
      // Each job starts empty, even after another job wrote into its own directory.
      assert.match(
        readFileSync(join(queue, 'done', `${id}.log`), 'utf8'),
        inOrder([`\ndir=${projectDir} builds=${join(dir, 'builds')} pwd=${projectDir} mode=700 entries=0\n`]),
      );
      assert.equal(existsSync(projectDir), false, 'the directory is removed after the job');
      assert.equal(existsSync(`${projectDir}.tmp`), false, "and the runner's files of the job");
    }
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

const SCRIPTS_CONFIG = `
[[runners]]
name = "local"
environment = ["FROM_CONFIG=config value", "OVERRIDDEN=from config", "DERIVED=$CI_JOB_NAME-suffix"]
pre_build_script = "export FROM_PRE=set-by-pre; echo pre sees $FROM_CONFIG"
post_build_script = '''
echo post sees $FROM_PRE
echo second post line'''
`;

test("config.toml's environment and pre_build_script/post_build_script reach a local job, in GitLab Runner's order", async () => {
  const dir = workDir(SCRIPTS_CONFIG);
  const runner = await start(dir);
  try {
    const queue = join(dir, 'queue');
    const ok = await enqueue(
      queue,
      jobToml(
        'ok',
        ['echo "script sees $FROM_CONFIG / $OVERRIDDEN / $DERIVED / $FROM_PRE"'],
        'after_script = ["echo after sees ${FROM_PRE:-nothing}"]\n[variables]\nOVERRIDDEN = "from the job"\n',
      ),
      'ok.toml',
    );
    const bad = await enqueue(queue, jobToml('bad', ['false'], 'after_script = ["echo after runs"]\n'), 'bad.toml');
    assert.equal((await waitForResult(queue, ok.id, { timeoutMs: 20_000 })).state, 'success');
    assert.match(
      readFileSync(join(queue, 'done', `${ok.id}.log`), 'utf8'),
      inOrder([
        titled('Executing "step_script" stage of the job script'),
        announced('export FROM_PRE=set-by-pre; echo pre sees $FROM_CONFIG'),
        'pre sees config value\n',
        announced('echo "script sees $FROM_CONFIG / $OVERRIDDEN / $DERIVED / $FROM_PRE"'),
        // The job's own variable wins over environment; a value is expanded from the job's variables; pre_build_script's shell is the script's.
        'script sees config value / from the job / ok-suffix / set-by-pre\n',
        announced('echo post sees $FROM_PRE # collapsed multi-line command'),
        'post sees set-by-pre\nsecond post line\n',
        titled('Running after_script'),
        /[^]*/,
        // after_script is a shell of its own: nothing of pre_build_script's.
        'after sees nothing\n',
      ]),
    );
    const badResult = await waitForResult(queue, bad.id, { timeoutMs: 20_000 });
    assert.equal(badResult.failure_reason, 'script_failure');
    const badLog = readFileSync(join(queue, 'done', `${bad.id}.log`), 'utf8');
    assert.match(badLog, inOrder(['pre sees config value\n', announced('false'), titled('Running after_script'), /[^]*/, 'after runs\n']));
    assert.ok(!badLog.includes('post sees'), 'post_build_script runs only after a script that succeeded');
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pre_get_sources_script and post_get_sources_script run around the fetch of a local job with a repository', async () => {
  const dir = workDir(
    `[[runners]]\nname = "local"\npre_get_sources_script = "echo before the fetch"\npost_get_sources_script = "git log -1 --format=got-%s"\n`,
  );
  const repo = join(dir, 'repo');
  const git = (...args: string[]): void => {
    const result = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-C', repo, ...args], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  };
  mkdirSync(repo);
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'first-commit');
  const runner = await start(dir);
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, jobToml('fetching', ['test -d .git'], `repository = ${JSON.stringify(repo)}\nref = "main"\n`), 'f.toml');
    const result = await waitForResult(queue, id, { timeoutMs: 20_000 });
    const log = readFileSync(join(queue, 'done', `${id}.log`), 'utf8');
    assert.equal(result.state, 'success', log);
    assert.match(
      log,
      inOrder([
        titled('Getting source from Git repository'),
        announced('echo before the fetch'),
        'before the fetch\n',
        /[^]*Checking out \S+ as detached HEAD[^]*/,
        announced('git log -1 --format=got-%s'),
        'got-first-commit\n',
        titled('Executing "step_script" stage of the job script'),
      ]),
    );
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shell = "sh" runs every stage in sh, and the log says so', async () => {
  const dir = workDir('[[runners]]\nname = "local"\nshell = "sh"\n');
  const runner = await start(dir);
  try {
    const queue = join(dir, 'queue');
    // $0 is the shell the stage runs in (its base name: Deno starts a child by its full path).
    const { id } = await enqueue(queue, jobToml('in-sh', ['echo "shell=${0##*/}"'], 'after_script = ["echo \\"after in ${0##*/}\\""]\n'), 'sh.toml');
    assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).state, 'success');
    const log = readFileSync(join(queue, 'done', `${id}.log`), 'utf8');
    assert.match(log, inOrder([plain('Using Shell (sh) executor...'), /[^]*/, announced('echo "shell=${0##*/}"'), 'shell=sh\n', /[^]*/, 'after in sh\n']));
    assert.ok(!log.includes('Using Shell (bash)'), log);
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
