// Expansion of variable values as GitLab Runner does it: Go's os.Expand with
// its variable list's lookup (common/spec/variables.go), never a shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, specialName } from '../../../src/build/expand.ts';

/** The lookup of a list holding X=ex, FOObar=long, -=dash and the special names GitLab Runner answers itself. */
const lookup = (name: string): string =>
  specialName(name) ?? ({ X: 'ex', FOO: 'foo', FOObar: 'long', '-': 'dash', 'X:-d': 'odd' } as Record<string, string>)[name] ?? '';

test("os.Expand's syntax: $X and ${X}, a greedy name, $$, unknown names empty", () => {
  const cases: Array<[string, string]> = [
    ['$X', 'ex'],
    ['${X}', 'ex'],
    ['a$X-b', 'aex-b'],
    ['$FOObar', 'long'], // the name is all of [A-Za-z0-9_]
    ['${FOO}bar', 'foobar'],
    ['$$', '$'],
    ['$$X', '$X'], // not expanded again
    ['$$$X', '$ex'],
    ['$UNKNOWN', ''],
    ['<${UNKNOWN}>', '<>'],
    ['no dollar', 'no dollar'],
    ['', ''],
  ];
  for (const [input, output] of cases) assert.equal(expand(input, lookup), output, input);
});

test('no shell operators: ${X:-d} looks up a name "X:-d"; ${ X } a name with spaces', () => {
  assert.equal(expand('${X:-default}', lookup), '', 'not a default value: no variable of that name');
  assert.equal(expand('${X:-d}', lookup), 'odd', 'the whole text up to the brace is the name');
  assert.equal(expand('${ X }', lookup), '');
  assert.equal(expand('${X}}', lookup), 'ex}');
});

test('positional and status names are empty and take one character; $- is an ordinary name', () => {
  const cases: Array<[string, string]> = [
    ['$1', ''],
    ['$0', ''],
    ['$5abc', 'abc'],
    ['$*', ''],
    ['$@', ''],
    ['aa$@bb', 'aabb'],
    ['aa${@}bb', 'aabb'],
    ['$#', ''],
    ['$!', ''],
    ['$?', ''],
    ['$-', 'dash'],
    ['${10}', ''], // a two-character name, unknown
  ];
  for (const [input, output] of cases) assert.equal(expand(input, lookup), output, input);
});

test('a $ that starts no name stays; a broken ${ is swallowed', () => {
  const cases: Array<[string, string]> = [
    ['trailing $', 'trailing $'],
    ['$', '$'],
    ['$/dsa', '$/dsa'],
    ['$ X', '$ X'],
    ['$é', '$é'],
    ['a$.b', 'a$.b'],
    ['${', ''],
    ['${X', 'X'],
    ['x${}y', 'xy'],
  ];
  for (const [input, output] of cases) assert.equal(expand(input, lookup), output, input);
});

test('one pass: a value holding $NAME is inserted as it is', () => {
  const values: Record<string, string> = { A: '$B', B: 'b' };
  assert.equal(expand('$A', (name) => values[name] ?? ''), '$B');
});

test('the special names GitLab Runner answers before its list', () => {
  assert.equal(specialName('$'), '$');
  for (const name of ['*', '#', '@', '!', '?', '0', '1', '9']) assert.equal(specialName(name), '', name);
  for (const name of ['-', 'X', '10', '']) assert.equal(specialName(name), undefined, name);
});
