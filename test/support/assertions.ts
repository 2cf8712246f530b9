// Assertions several test files share.
import assert from 'node:assert/strict';

/** A user error: exactly one line on stderr, starting "runner: ", with these fragments, and no stack trace. */
export function assertOneLineError(stderr: string, ...fragments: string[]): void {
  // Every line terminator a terminal or a log viewer may break a line at, not only \n.
  const lines = stderr.trimEnd().split(/\r\n|[\n\r\u0085\u2028\u2029]/);
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^runner: /);
  for (const fragment of fragments) assert.ok(lines[0]!.includes(fragment), `${JSON.stringify(fragment)} missing in: ${lines[0]}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}
