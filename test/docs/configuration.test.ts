// One source for each configuration fact: docs/configuration.md's key tables
// and config.toml.example agree with the validator's schema, and the
// validator reads every key the schema declares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { DOCKER_KEYS, GLOBAL_KEYS, type KeySpec, OTEL_KEYS, RUNNER_KEYS } from '../../src/config/schema.ts';
import { ConfigError, validateConfig } from '../../src/config/validate.ts';
import { codeSpans, readDoc, tableUnder } from '../support/markdown.ts';

/** A default as the docs write it: a TOML value in backticks, or none. */
function shown(spec: KeySpec): string {
  if (spec.default === undefined) return 'none';
  return `\`${typeof spec.default === 'string' ? JSON.stringify(spec.default) : String(spec.default)}\``;
}

/** The documented keys: key -> [type, default]. */
function documented(heading: string): Map<string, [string, string]> {
  const [header, ...rows] = tableUnder(readDoc('docs/configuration.md'), heading);
  assert.deepEqual(header?.slice(0, 3), ['key', 'type', 'default']);
  return new Map(rows.map((row) => [codeSpans(row[0] ?? '')[0] ?? row[0]!, [row[1]!, row[2]!]]));
}

/** The schema's keys as the docs should show them; the [[runners]] array has its own table. */
function expected(schema: Readonly<Record<string, KeySpec>>): Map<string, [string, string]> {
  return new Map(Object.entries(schema).filter(([, spec]) => spec.type !== 'array of tables').map(([key, spec]) => [key, [spec.type, shown(spec)]]));
}

test("docs/configuration.md lists every global key with the schema's type and default, and no other", () => {
  assert.deepEqual(documented('Global settings'), expected(GLOBAL_KEYS));
});

test("docs/configuration.md lists every [[runners]] key with the schema's type and default, and no other", () => {
  assert.deepEqual(documented('[[runners]] settings'), expected(RUNNER_KEYS));
});

test("docs/configuration.md lists every [runners.docker] key with the schema's type and default, and no other", () => {
  assert.deepEqual(documented('`[runners.docker]`'), expected(DOCKER_KEYS));
});

test("docs/configuration.md lists every [otel] key with the schema's type and default, and no other", () => {
  assert.deepEqual(documented('`[otel]`'), expected(OTEL_KEYS));
});

test('the validator reads every key the schema declares: a value of the wrong type is an error naming it', () => {
  const wrong = (spec: KeySpec): unknown => (spec.type === 'string' || spec.type === 'string or array of strings' ? 42 : 'text');
  for (const [key, spec] of Object.entries(GLOBAL_KEYS)) {
    assert.throws(
      () => validateConfig({ [key]: wrong(spec) }, 'config.toml'),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`config.toml: ${key}: `),
      key,
    );
  }
  for (const [key, spec] of Object.entries(DOCKER_KEYS)) {
    const runner: Record<string, unknown> = { name: 'r', executor: 'docker', docker: { [key]: spec.type === 'integer' ? 'text' : 42 } };
    assert.throws(
      () => validateConfig({ runners: [runner] }, 'config.toml'),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`config.toml: runners[0].docker.${key}: `),
      key,
    );
  }
  for (const [key, spec] of Object.entries(OTEL_KEYS)) {
    assert.throws(
      () => validateConfig({ otel: { [key]: wrong(spec) } }, 'config.toml'),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`config.toml: otel.${key}: `),
      key,
    );
  }
  for (const [key, spec] of Object.entries(RUNNER_KEYS)) {
    const runner: Record<string, unknown> = { name: 'r', url: 'https://gitlab.example', token: 't', [key]: wrong(spec) };
    assert.throws(
      () => validateConfig({ runners: [runner] }, 'config.toml'),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`config.toml: runners[0].${key}: `),
      key,
    );
  }
});

test('config.toml.example shows every key (the coordinator ones commented out) and loads without a warning', () => {
  const text = readDoc('config.toml.example');
  const mentioned = new Set([...text.matchAll(/^#?\s*([\w-]+)\s*=/gm)].map((match) => match[1]!));
  const keys = [...Object.entries(GLOBAL_KEYS), ...Object.entries(RUNNER_KEYS)].filter(([, spec]) => spec.type !== 'array of tables').map(([key]) => key);
  assert.deepEqual(keys.filter((key) => !mentioned.has(key)), [], 'keys config.toml.example does not show');
  assert.deepEqual([...mentioned].filter((key) => !keys.includes(key)), [], 'keys the schema does not know');
  const { warnings } = validateConfig(parse(text) as Record<string, unknown>, 'config.toml.example');
  assert.deepEqual(warnings, []);
});
