// A stage's script handed to its shell on stdin as a regular file rather than a pipe.
//
// Why: bash reads commands from a pipe one byte at a time (a read(2) per byte, so that a command
// reading stdin gets the rest of the script, not what bash buffered); a step script exporting a
// job's ~180 variables is 15-30 KB, and those reads cost its login shell 30-40 ms before the
// first command runs, once per stage (docs/benchmarks.md, issue 17). From a regular file bash
// reads in blocks and seeks back to the next command before running one, so a command reading
// stdin still gets the rest of the script: GitLab Runner's stdin semantics, without the per-byte
// reads.
//
// The file holds the job's variables (secrets too). It is made in memory where the system has
// a tmpfs for that (/dev/shm), else in the job's own temporary directory (mode 0700, removed
// with the job); with mode 0600, a random name and O_EXCL (a planted file or link makes it fail,
// and the script then goes through a pipe as before); and it is unlinked before the script is
// written to it, so the script never has a name anyone could open.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Memory-backed on Linux: the script does not reach a disk (unless swapped). */
const SHARED_MEMORY = '/dev/shm';

/**
 * An fd of an unlinked file holding `script`, read from its start, made in /dev/shm or else in
 * `jobTempDir`; the caller closes it. Throws when neither takes it.
 */
export function openScriptFile(jobTempDir: string, script: string): number {
  try {
    return openIn(SHARED_MEMORY, script);
  } catch {
    return openIn(jobTempDir, script);
  }
}

function openIn(dir: string, script: string): number {
  const path = join(dir, `runner-stage-script-${randomBytes(8).toString('hex')}`);
  const fd = openSync(path, 'wx+', 0o600);
  try {
    unlinkSync(path);
    const bytes = Buffer.from(script);
    // Positioned writes leave the fd's offset at 0, where the shell starts reading.
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
