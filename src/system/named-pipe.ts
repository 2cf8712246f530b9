// Pipes whose read end is ours as a plain fd (for readPipe), made as named
// pipes (FIFOs): none of the runtimes hands out the fds of the pipes it makes
// for a child, and JavaScript cannot make a FIFO itself, so `mkfifo` makes
// them, a batch at a time (one spawn per BATCH pipes, the next one made
// while half of the last are still unused), in a private directory
// (mode 0700) under the temp directory. They are opened at both ends at once
// and the directory removed: what is kept is open fds, no names, so no one
// else can open them and nothing is left behind however the process ends.
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackPath } from './process-record.ts';

export interface PipeEnds {
  /** Opened with O_NONBLOCK, for readPipe. */
  readonly readFd: number;
  /** Blocking, as a child's stdout should be. */
  readonly writeFd: number;
}

/** Pipes made by one mkfifo spawn (2-3 ms); each spare one holds two fds. */
const BATCH = 16;

const spare: PipeEnds[] = [];
let making: Promise<void> | undefined;

function mkfifo(paths: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mkfifo', ['-m', '600', ...paths], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`mkfifo failed (${signal ?? `exit code ${code}`}): ${stderr.trim()}`));
    });
  });
}

async function makeBatch(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'runner-pipes-'));
  // For the milliseconds it exists: should the runner die meanwhile, the next start removes it.
  const untrack = trackPath(directory);
  try {
    const paths = Array.from({ length: BATCH }, (_, i) => join(directory, `${i}`));
    await mkfifo(paths);
    for (const path of paths) spare.push(openBoth(path));
  } finally {
    rmSync(directory, { recursive: true, force: true });
    untrack();
  }
}

/** Opens both ends of a FIFO made by makeBatch. */
function openBoth(path: string): PipeEnds {
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(readFd).isFIFO()) throw new Error(`${path} is not a named pipe`);
    // Does not block: the pipe has a reader.
    return { readFd, writeFd: openSync(path, constants.O_WRONLY) };
  } catch (error) {
    closeSync(readFd);
    throw error;
  }
}

/**
 * A new pipe, open at both ends (close-on-exec, as every fd the runtimes
 * open), for the caller to close. Rejects when no FIFO can be made (no
 * `mkfifo`, say).
 */
export async function openNamedPipe(): Promise<PipeEnds> {
  for (;;) {
    const pipe = spare.pop();
    if (pipe !== undefined) {
      // Make the next batch while they last, so a step rarely waits for mkfifo.
      if (spare.length < BATCH / 2) makeAhead().catch(() => {}); // a failure shows when a step needs a pipe
      return pipe;
    }
    await makeAhead();
  }
}

function makeAhead(): Promise<void> {
  making ??= makeBatch().finally(() => {
    making = undefined;
  });
  return making;
}

/** Pipes made ahead and not handed out yet (each holds two fds), once a batch being made is done. */
export async function spareNamedPipes(): Promise<number> {
  await making?.catch(() => {});
  return spare.length;
}
