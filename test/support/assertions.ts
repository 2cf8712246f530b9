// Assertions several test files share.
import assert from 'node:assert/strict';

/** A user error: exactly one line on stderr, starting "runner: ", with these fragments, and no stack trace. */
export function assertOneLineError(stderr: string, ...fragments: string[]): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^runner: /);
  for (const fragment of fragments) assert.ok(lines[0]!.includes(fragment), `${JSON.stringify(fragment)} missing in: ${lines[0]}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}
