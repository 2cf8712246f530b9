// A local job file's `image` and `services`, as .gitlab-ci.yml writes them:
//
//   image = "node:22"                                   # or a table:
//   image = { name = "node:22", entrypoint = [""], pull_policy = ["if-not-present"] }
//   services = ["postgres:16", { name = "redis:7", alias = "cache", command = ["redis-server"] }]
//
// Run by the docker executor; the shell executor warns that it ignores them.
import { describeValue } from '../../config/describe-value.ts';
import { didYouMean } from '../../config/did-you-mean.ts';
import type { ImageSpec } from '../../job/model.ts';

type Fail = (key: string, message: string) => never;
type Table = Record<string, unknown>;

const IMAGE_KEYS = ['name', 'entrypoint', 'pull_policy'] as const;
const SERVICE_KEYS = ['name', 'alias', 'entrypoint', 'command', 'pull_policy', 'variables'] as const;
const POLICIES = ['always', 'if-not-present', 'never'];

const isTable = (value: unknown): value is Table => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

function strings(value: unknown, where: string, fail: Fail): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) fail(where, `expected an array of strings, got ${describeValue(value)}`);
  return value;
}

function spec(value: unknown, where: string, keys: readonly string[], fail: Fail): ImageSpec {
  const table: Table = typeof value === 'string'
    ? { name: value }
    : isTable(value)
    ? value
    : fail(where, `expected an image name or a table, got ${describeValue(value)}`);
  for (const key of Object.keys(table)) {
    if (!keys.includes(key)) fail(`${where}.${key}`, `unknown key${didYouMean(key, keys)}: expected one of ${keys.join(', ')}`);
  }
  const name = table['name'];
  if (typeof name !== 'string' || name.trim() === '') fail(`${where}.name`, `expected an image name such as "alpine:3", got ${describeValue(name)}`);
  const pullPolicies = strings(table['pull_policy'], `${where}.pull_policy`, fail);
  const unknown = pullPolicies.find((policy) => !POLICIES.includes(policy));
  if (unknown !== undefined) fail(`${where}.pull_policy`, `expected ${POLICIES.join(', ')}, got ${JSON.stringify(unknown)}`);
  const alias = table['alias'];
  if (alias !== undefined && typeof alias !== 'string') fail(`${where}.alias`, `expected a string, got ${describeValue(alias)}`);
  const variables = table['variables'];
  if (variables !== undefined && !(isTable(variables) && Object.values(variables).every((v) => typeof v === 'string'))) {
    fail(`${where}.variables`, 'expected a table of strings');
  }
  return {
    name,
    aliases: typeof alias === 'string' ? alias.split(/[\s,]+/).filter((a) => a !== '') : [],
    entrypoint: strings(table['entrypoint'], `${where}.entrypoint`, fail),
    command: strings(table['command'], `${where}.command`, fail),
    pullPolicies,
    variables: Object.entries((variables ?? {}) as Record<string, string>).map(([key, value]) => ({ key, value, masked: false })),
  };
}

export function parseImage(value: unknown, fail: Fail): ImageSpec {
  return spec(value, 'image', IMAGE_KEYS, fail);
}

export function parseServices(value: unknown, fail: Fail): ImageSpec[] {
  if (!Array.isArray(value)) fail('services', `expected an array of image names or tables, got ${describeValue(value)}`);
  return value.map((entry, i) => spec(entry, `services[${i}]`, SERVICE_KEYS, fail));
}
