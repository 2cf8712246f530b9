// `user` of [[runners]] as an operator runs it: `runner run` as root, jobs as
// throwaway users made for the test (and removed after it). What a job must
// not reach: the runner's environment and config.toml, another job's
// environment and directories; what it gets: its own uid and private
// directories; and nothing it started outlives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { endProcessesOf, lookupUser, setprivPath } from '../../src/executors/shell/job-user.ts';
import { runCli, startRunner } from '../support/runner-process.ts';

const skip = process.getuid?.() !== 0
  ? 'needs root: the runner switches users, and the test makes users with useradd'
  : spawnSync('useradd', ['--help']).error !== undefined
  ? 'useradd not found (Debian package passwd)'
  : setprivPath() === undefined
  ? 'setpriv not found (Debian package util-linux)'
  : false;

/** Makes `count` users for the test; removes them (and whatever of theirs still runs) when `body` is done. */
async function withUsers(count: number, body: (users: string[]) => Promise<void>): Promise<void> {
  const tag = Math.random().toString(36).slice(2, 8);
  const users: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `rjt${tag}${i}`;
      const made = spawnSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      users.push(name);
    }
    await body(users);
  } finally {
    for (const name of users) {
      const user = lookupUser(name);
      if (user !== undefined) await endProcessesOf(user, setprivPath()!, '/bin/sh').catch(() => undefined);
      spawnSync('userdel', [name]);
    }
  }
}

/** A working directory as a service has it: job users may pass through it, config.toml is root's alone. */
function workDir(config: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-job-user-'));
  chmodSync(dir, 0o711);
  writeFileSync(join(dir, 'config.toml'), `check_interval = 0.2\n${config}`, { mode: 0o600 });
  return dir;
}

const logOf = (queue: string, id: string): string => readFileSync(join(queue, 'done', `${id}.log`), 'utf8');

test("a job runs as the configured user: its uid, its private directories, not the runner's environment or files", { skip }, async () => {
  await withUsers(1, async (users) => {
    const name = users[0]!;
    const dir = workDir(`[[runners]]\nname = "local"\nuser = "${name}"\n`);
    const runner = await startRunner([], { cwd: dir, env: { RUNNER_SECRET_X: 'in-the-runners-environment' } });
    try {
      const queue = join(dir, 'queue');
      const job = await enqueue(
        queue,
        `name = "who"\nscript = [${
          [
            'echo "uid=$(id -u) user=$(id -un)"',
            `echo "runner-environ: $(cat /proc/${runner.pid}/environ 2>&1 | tr "\\0" " ")"`,
            'echo "parent-environ: $(cat /proc/$PPID/environ 2>&1 | tr "\\0" " ")"',
            `echo "config: $(cat ${dir}/config.toml 2>&1)"`,
            `echo "queue: $(ls ${queue} 2>&1)"`,
            'echo "secret-in-env: ${RUNNER_SECRET_X:-none}"',
            'echo "dirs: $(stat -c "%U %a" "$CI_PROJECT_DIR" "$RUNNER_TEMP_PROJECT_DIR" | tr "\\n" " ")"',
            'echo "home=$HOME"',
            // Leaves the stage's process group: it must still end with the job.
            'setsid sleep 300 > /dev/null 2>&1 < /dev/null &',
          ].map((line) => JSON.stringify(line)).join(', ')
        }]\n`,
        'who.toml',
      );
      const result = await waitForResult(queue, job.id, { timeoutMs: 20_000 });
      const log = logOf(queue, job.id);
      assert.equal(result.state, 'success', log);
      const uid = lookupUser(name)!.uid;
      assert.match(log, new RegExp(`^uid=${uid} user=${name}$`, 'm'));
      assert.match(log, /^runner-environ: cat: \/proc\/\d+\/environ: Permission denied$/m);
      assert.match(log, /^parent-environ: cat: \/proc\/\d+\/environ: Permission denied$/m);
      assert.match(log, /^config: cat: .*config\.toml: Permission denied$/m);
      assert.match(log, /^queue: ls: cannot open directory .*: Permission denied$/m);
      assert.match(log, /^secret-in-env: none$/m, "the runner's environment does not reach the job");
      assert.match(log, new RegExp(`^dirs: ${name} 700 ${name} 700 $`, 'm'));
      assert.match(log, /^home=\/nonexistent$/m);
      assert.doesNotMatch(log, /in-the-runners-environment/);
      // Killed processes whose parent is gone wait for pid 1 to reap them (zombies): they run no more.
      const left = spawnSync('ps', ['-u', name, '-o', 'stat=,pid=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((line) => /^[^Z\s]/.test(line));
      assert.deepEqual(left, [], "nothing of the job's user runs after it");
    } finally {
      await runner.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("two jobs at once run as two users: neither reads the other's environment or directory", { skip }, async () => {
  await withUsers(2, async (users) => {
    const dir = workDir(`concurrent = 2\n[[runners]]\nname = "local"\nuser = ${JSON.stringify(users)}\n`);
    // Where the jobs tell each other their pid and directory: anyone may write there (sticky, as /tmp).
    const meeting = join(dir, 'meeting');
    mkdirSync(meeting);
    chmodSync(meeting, 0o1777);
    const runner = await startRunner([], { cwd: dir });
    try {
      const queue = join(dir, 'queue');
      // A: its masked variable is in the environment of what it runs, while B looks.
      const a = await enqueue(
        queue,
        `name = "a"\nscript = [${
          JSON.stringify(
            `sleep 20 & echo "$! $CI_PROJECT_DIR" > ${meeting}/a.tmp && mv ${meeting}/a.tmp ${meeting}/a; ` +
              `while [ ! -e ${meeting}/b-done ]; do sleep 0.1; done; kill $!`,
          )
        }]\n[variables]\nA_SECRET = { value = "a-secret-value-123", masked = true }\n`,
        'a.toml',
      );
      const b = await enqueue(
        queue,
        `name = "b"\nscript = [${
          JSON.stringify(
            `while [ ! -e ${meeting}/a ]; do sleep 0.1; done; read pid project < ${meeting}/a; ` +
              `echo "b-as=$(id -un)"; ` +
              `echo "environ: $(cat /proc/$pid/environ 2>&1 | tr "\\0" " ")"; ` +
              `echo "project: $(ls "$project" 2>&1)"; ` +
              `touch ${meeting}/b-done`,
          )
        }]\n`,
        'b.toml',
      );
      const [resultA, resultB] = await Promise.all([a, b].map((job) => waitForResult(queue, job.id, { timeoutMs: 30_000 }))).catch((error) => {
        // Each waits for the other: say where both stopped.
        const logs = [a, b].map((job) => {
          try {
            return logOf(queue, job.id);
          } catch {
            return '(no log)';
          }
        });
        throw new Error(`${error}\n--- a:\n${logs[0]}\n--- b:\n${logs[1]}\n--- runner:\n${runner.logs()}`, { cause: error });
      });
      const logB = logOf(queue, b.id);
      assert.equal(resultA!.state, 'success', logOf(queue, a.id));
      assert.equal(resultB!.state, 'success', logB);
      // Both jobs prepare at once, and which takes which user is the order they reach the lease.
      const userA = /Running as user (\S+) /.exec(logOf(queue, a.id))?.[1];
      assert.ok(userA !== undefined && users.includes(userA), logOf(queue, a.id));
      const userB = users.find((user) => user !== userA)!;
      assert.match(logB, new RegExp(`Running as user ${userB} `));
      assert.match(logB, new RegExp(`^b-as=${userB}$`, 'm'));
      assert.match(logB, /^environ: .*\/proc\/\d+\/environ: Permission denied$/m);
      assert.match(logB, /^project: ls: cannot open directory .*: Permission denied$/m);
      assert.doesNotMatch(logB, /a-secret-value-123/);
    } finally {
      await runner.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("a restored cache belongs to the job's user, a setuid bit never to root", { skip }, async () => {
  await withUsers(1, async (users) => {
    const name = users[0]!;
    const dir = workDir(`[[runners]]\nname = "local"\nuser = "${name}"\n`);
    const runner = await startRunner([], { cwd: dir });
    try {
      const queue = join(dir, 'queue');
      const make = await enqueue(
        queue,
        `name = "make"\nscript = ["mkdir -p .deps/sub && echo one > .deps/sub/f && cp /bin/true .deps/tool && chmod 4755 .deps/tool"]\n` +
          'cache = { key = "deps", paths = [".deps/"] }\n',
        'make.toml',
      );
      assert.equal((await waitForResult(queue, make.id, { timeoutMs: 20_000 })).state, 'success', logOf(queue, make.id));
      const use = await enqueue(
        queue,
        `name = "use"\nscript = ["stat -c 'owner %n %U %A' .deps .deps/sub .deps/sub/f .deps/tool", "echo two >> .deps/sub/f && rm -r .deps && echo changed"]\n` +
          'cache = { key = "deps", paths = [".deps/"], policy = "pull" }\n',
        'use.toml',
      );
      const result = await waitForResult(queue, use.id, { timeoutMs: 20_000 });
      const log = logOf(queue, use.id);
      assert.equal(result.state, 'success', log);
      for (const path of ['.deps', '.deps/sub', '.deps/sub/f']) assert.match(log, new RegExp(`^owner ${path} ${name} `, 'm'), log);
      assert.match(log, new RegExp(`^owner .deps/tool ${name} -rwsr-xr-x$`, 'm'), "the setuid bit is the user's own");
      assert.match(log, /^changed$/m);
    } finally {
      await runner.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('runner run refuses a user that does not exist, in one line naming it', { skip }, async () => {
  const dir = workDir('[[runners]]\nname = "local"\nuser = "no-such-user-rjt"\n');
  try {
    const result = await runCli(['run', '--config', join(dir, 'config.toml')], { cwd: dir, timeoutMs: 15_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr.trim(),
      `runner: ${join(dir, 'config.toml')}: runners[0].user: no user "no-such-user-rjt" on this machine (create it with useradd)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
