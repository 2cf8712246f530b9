// The jobs bench's job files and shell commands: trivial jobs, and jobs that print a given
// number of bytes, sized so that the job's whole log (the runner's `$ command` echo line plus
// the output) is exactly that many bytes, so a kept log can be checked by its size alone.

import { Buffer } from 'node:buffer';
import { commandEcho } from '../../src/build/shell/stage-scripts.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** One 100-byte line per `yes` output line (99 letters and the newline). */
const LINE = 'a'.repeat(99);

/** The trivial job of the queue throughput measurement. */
export const TRIVIAL_JOB_TOML = 'name = "trivial"\nscript = ["true"]\n';

/**
 * A command printing exactly `bytes` bytes of 100-byte lines. `yes` ends by SIGPIPE (or EPIPE
 * with a message, where SIGPIPE is ignored) when `head` has had enough; `2>/dev/null || true`
 * keeps that out of the log and out of `set -eo pipefail`, which the runner's shell script uses.
 */
export function printCommand(bytes: number): string {
  return `{ yes ${LINE} 2>/dev/null || true; } | head -c ${bytes}`;
}

/** The bytes the runner logs for a one-command script: its echo line, then the output. */
function logBytes(command: string, outputBytes: number): number {
  return Buffer.byteLength(`${commandEcho(command)}\n`) + outputBytes;
}

/** A command whose job log (echo line + output) is exactly logTotal bytes. */
export function printCommandForLog(logTotal: number): { command: string; outputBytes: number } {
  let outputBytes = logTotal;
  for (let i = 0; i < 5; i++) {
    const command = printCommand(outputBytes);
    const next = logTotal - (logBytes(command, outputBytes) - outputBytes);
    if (next === outputBytes) return { command, outputBytes };
    outputBytes = next;
  }
  throw new Error(`cannot size a command for a ${logTotal}-byte log`);
}

/** A job file running one command, with a timeout so even a stuck job ends. */
export function jobToml(name: string, command: string, timeout: string): string {
  return `name = ${JSON.stringify(name)}\nscript = [${JSON.stringify(command)}]\ntimeout = ${JSON.stringify(timeout)}\n`;
}

/** The physical reference: the same command piped to a file by a plain shell, with the runner's shell options. */
export function referenceScript(command: string, file: string): string {
  return `set -eo pipefail; ${command} | cat > '${file.replaceAll("'", `'\\''`)}'`;
}
