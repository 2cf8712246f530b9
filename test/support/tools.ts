// External consumers the tests use (promtool, prometheus, go). Where one is
// missing locally the test is skipped with a message that says so; CI installs them.
import { spawnSync } from 'node:child_process';

export function hasCommand(command: string, versionArg = '--version'): boolean {
  const result = spawnSync(command, [versionArg], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/** A `skip` option for node:test: false when the tool is there, else the reason (printed too, since Bun drops it). */
export function skipUnless(command: string, debianPackage: string, versionArg = '--version'): false | string {
  if (hasCommand(command, versionArg)) return false;
  const reason = `${command} not installed (Debian package ${debianPackage}); .ci/run installs it`;
  process.stderr.write(`SKIP: ${reason}\n`);
  return reason;
}
