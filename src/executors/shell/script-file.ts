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
// The file holds the job's variables (secrets too): it is made with mode 0600 in the job's own
// temporary directory (private, removed with the job, and by the next start should the runner
// die) and unlinked before the script is written to it, so its content never has a name.
import { Buffer } from 'node:buffer';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

let count = 0;

/** An fd of an unlinked file holding `script`, read from its start; the caller closes it. */
export function openScriptFile(dir: string, script: string): number {
  const path = join(dir, `stage-script-${process.pid}-${++count}`);
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
