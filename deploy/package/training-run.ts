// A training run of a release artefact: it is started once as a user starts it (a metrics server,
// two scrapes and the job list, SIGTERM) with an environment variable that makes it write, at
// exit, what that run used - the npm package's V8 code cache (RUNNER_WRITE_CODE_CACHE, see
// npm-bin.ts), the order of the Bun executable's bytecode (BUN_BYTECODE_ORDER_OUT, Bun's own).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const READY_TIMEOUT_MS = 30_000;

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    }).on('error', reject).end();
  });
}

/**
 * Runs `command run ...` with `outputVariable`=`outputFile` in its environment, and checks that
 * it wrote `outputFile` by the time it exited.
 */
export async function trainingRun(command: readonly [string, ...string[]], outputVariable: string, outputFile: string): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'runner-training-run-'));
  const [bin, ...prefix] = command;
  const child = spawn(bin, [...prefix, 'run', '--metrics-server', '127.0.0.1:0', '--working-directory', workDir], {
    cwd: workDir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: workDir, [outputVariable]: outputFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the runner did not start within ${READY_TIMEOUT_MS} ms:\n${stderr}`)), READY_TIMEOUT_MS);
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const listening = /Metrics server listening\s+address=(\S+)/.exec(stderr);
        if (listening?.[1] && stderr.includes('Runner ready')) {
          clearTimeout(timer);
          resolve(listening[1]);
        }
      });
      void exited.then((code) => reject(new Error(`the runner exited (${String(code)}) before it was ready:\n${stderr}`)));
    });
    for (const path of ['/metrics', '/metrics', '/debug/jobs/list']) {
      const status = await get(`http://${address}${path}`);
      if (status !== 200) throw new Error(`GET ${path} answered ${status} in its training run`);
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the runner exited ${String(code)} in its training run:\n${stderr}`);
    if (!existsSync(outputFile) || statSync(outputFile).size === 0) throw new Error(`${outputVariable}: nothing written to ${outputFile}`);
  } finally {
    // A failed run leaves no runner behind.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  }
}
