// Makes the npm package's V8 code cache: the package's own `runner` is started once as a user
// starts it (a metrics server, one scrape, SIGTERM) and keeps, at exit, what V8 compiled by then.
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

/** Runs `node binScript run ...` with RUNNER_WRITE_CODE_CACHE=cacheFile and waits for the cache. */
export async function writeCodeCache(binScript: string, cacheFile: string): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'runner-code-cache-'));
  try {
    const child = spawn(process.execPath, [binScript, 'run', '--metrics-server', '127.0.0.1:0', '--working-directory', workDir], {
      cwd: workDir,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: workDir, RUNNER_WRITE_CODE_CACHE: cacheFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
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
      if (status !== 200) throw new Error(`GET ${path} answered ${status} while making the code cache`);
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the runner exited ${String(code)} while making the code cache:\n${stderr}`);
    if (!existsSync(cacheFile) || statSync(cacheFile).size === 0) throw new Error(`no code cache written to ${cacheFile}`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
