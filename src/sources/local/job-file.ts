// The local queue's job file: a TOML description of one job (a JobDefinition).
//
//   name = "unit-tests"                      # required
//   script = ["npm ci", "npm test"]          # required, non-empty
//   before_script = ["echo setup"]           # optional
//   after_script = ["echo cleanup"]          # optional
//   timeout = "10m"                          # optional: integer seconds or "90s", "10m", "1h30m"
//   [variables]
//   GREETING = "hello"
//   API_KEY = { value = "s3cretvalue", masked = true }
//   artifacts, cache, needs, dependencies: see job-file-transfer.ts
//   image, services: see job-file-images.ts
//   traceparent = "00-<trace id>-<span id>-01"   # optional: the trace the job's spans join
//   tracestate = "vendor=value"                  # optional, with traceparent: see job-file-trace.ts
//
// Every mistake is a one-line ConfigError naming the file and the key, and a
// TOML syntax error names FILE:LINE:COLUMN. Unknown keys are errors: a job
// file is not a place to guess. Error messages never show a variable's value,
// masked or not (a value meant to be masked may sit in a table with a typo in
// it), only what kind of value it was.
import { parseToml, readTextFile } from '../../config/toml-file.ts';
import { describeValue } from '../../config/describe-value.ts';
import { closestName, didYouMean } from '../../config/did-you-mean.ts';
import { parseDuration } from '../../config/duration.ts';
import { ConfigError } from '../../config/validate.ts';
import type { JobDefinition, JobTraceContext, JobVariable } from '../../job/model.ts';
import { parseImage, parseServices } from './job-file-images.ts';
import { parseTraceContext } from './job-file-trace.ts';
import { parseArtifacts, parseCache, parseJobRefs } from './job-file-transfer.ts';

/**
 * A local job as its file describes it: a JobDefinition plus the earlier
 * jobs it names (by name or id), kept as written; the local source turns
 * them into the definition's `dependencies` when it claims the job.
 */
export interface LocalJobDefinition extends JobDefinition {
  /** `needs`: jobs that must end before this one starts and whose artifacts it downloads. */
  readonly needs?: readonly string[] | undefined;
  /** `dependencies`: the jobs whose artifacts it downloads (with needs: a subset of them; [] downloads none). */
  readonly dependsOn?: readonly string[] | undefined;
  /** `traceparent` and `tracestate`: the W3C trace context the job's trace joins. */
  readonly traceContext?: JobTraceContext | undefined;
}

/** GitLab's limit on job names. */
export const MAX_JOB_NAME = 255;
/** GitLab's rule: shorter masked values would mask too much of a log to be useful. */
export const MIN_MASKED_LENGTH = 8;
/** A variable name a shell can use as is. */
export const VARIABLE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

const TOP_LEVEL_KEYS = [
  'name',
  'script',
  'before_script',
  'after_script',
  'timeout',
  'repository',
  'ref',
  'artifacts',
  'cache',
  'needs',
  'dependencies',
  'image',
  'services',
  'traceparent',
  'tracestate',
  'variables',
] as const;
const VARIABLE_TABLE_KEYS = ['value', 'masked'] as const;

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A key as messages show it: bare if it could be written bare in TOML, else quoted. */
function showKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** What kind of value a variable had, without the value itself. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

// deno-lint-ignore no-control-regex -- control characters are what this matches
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Parses a job file's text; `origin` names the file in error messages. */
export function parseJobFile(text: string, origin: string): LocalJobDefinition {
  const document: Table = parseToml(text, origin);
  const fail: (key: string, message: string) => never = (key, message) => {
    throw new ConfigError(`${origin}: ${key}: ${message}`);
  };

  const unknownKeys = Object.keys(document).filter((key) => !(TOP_LEVEL_KEYS as readonly string[]).includes(key));
  if (unknownKeys.length > 0) {
    // As config.toml's unknown keys: the likely typo's fix first, then every key there is.
    const guesses = unknownKeys.flatMap((key) => {
      const near = closestName(key, TOP_LEVEL_KEYS.filter((known) => document[known] === undefined));
      return near === undefined ? [] : [unknownKeys.length > 1 ? `${near} for ${showKey(key)}` : near];
    });
    throw new ConfigError(
      `${origin}: unknown key${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map(showKey).join(', ')}` +
        `${guesses.length > 0 ? ` (did you mean ${guesses.join(', ')}?)` : ''}: ` +
        `a job file has only ${TOP_LEVEL_KEYS.slice(0, -1).join(', ')} and [variables]`,
    );
  }

  const name = document['name'];
  if (name === undefined) fail('name', 'required, a non-empty string');
  if (typeof name !== 'string' || name.trim() === '' || [...name].length > MAX_JOB_NAME || CONTROL.test(name)) {
    return fail('name', `expected a non-empty string of at most ${MAX_JOB_NAME} printable characters, got ${describeValue(name)}`);
  }

  const commands = (key: string, required: boolean): string[] => {
    const value = document[key];
    if (value === undefined) {
      return required ? fail(key, 'required, a non-empty array of commands such as ["npm ci", "npm test"]') : [];
    }
    if (!Array.isArray(value) || (required && value.length === 0)) {
      return fail(
        key,
        `expected a${required ? ' non-empty' : 'n'} array of commands such as ["npm ci", "npm test"], got ${
          Array.isArray(value) ? 'an empty array' : describeValue(value)
        }`,
      );
    }
    return value.map((command: unknown, i) => {
      if (typeof command !== 'string' || command.trim() === '' || command.includes('\0')) {
        return fail(`${key}[${i}]`, `expected a non-empty command string, got ${describeValue(command)}`);
      }
      return command;
    });
  };
  const script = commands('script', true);
  const beforeScript = commands('before_script', false);
  const afterScript = commands('after_script', false);

  const timeout = document['timeout'];
  const timeoutSeconds = timeout === undefined ? undefined : parseDuration(timeout, 'timeout', origin);

  const variables: JobVariable[] = [];
  const table = document['variables'];
  if (table !== undefined && !isTable(table)) {
    fail('variables', `expected a table ([variables] with lines such as GREETING = "hello"), got ${kindOf(table)}`);
  }
  for (const [key, entry] of Object.entries(table ?? {})) {
    const where = `variables.${showKey(key)}`;
    if (!VARIABLE_KEY.test(key)) {
      fail(where, 'expected a variable name of letters, digits and _ that does not start with a digit');
    }
    let value: unknown = entry;
    let masked: unknown = false;
    if (isTable(entry)) {
      const extra = Object.keys(entry).filter((k) => !(VARIABLE_TABLE_KEYS as readonly string[]).includes(k));
      if (extra.length > 0) {
        fail(`${where}.${showKey(extra[0]!)}`, `unknown key${didYouMean(extra[0]!, VARIABLE_TABLE_KEYS)}: a variable table has only value and masked`);
      }
      value = entry['value'];
      masked = entry['masked'] ?? false;
      if (value === undefined) fail(`${where}.value`, 'required, a string');
      if (typeof value !== 'string') fail(`${where}.value`, `expected a string, got ${kindOf(value)}`);
      if (typeof masked !== 'boolean') fail(`${where}.masked`, `expected true or false, got ${describeValue(masked)}`);
    } else if (typeof value !== 'string') {
      fail(where, `expected a string or a table such as { value = "...", masked = true }, got ${kindOf(value)}`);
    }
    const text: string = value;
    // An environment variable cannot hold NUL: starting the job would fail.
    if (text.includes('\0')) fail(where, 'expected a value without NUL characters, got one with');
    if (masked === true && [...text].length < MIN_MASKED_LENGTH) {
      fail(where, `a masked value must be at least ${MIN_MASKED_LENGTH} characters long, got a shorter one`);
    }
    variables.push({ key, value: text, masked: masked === true });
  }

  const url = document['repository'];
  const ref = document['ref'];
  if (url !== undefined && (typeof url !== 'string' || url.trim() === '' || CONTROL.test(url) || url.startsWith('-'))) {
    fail('repository', `expected a git repository URL or path, got ${typeof url === 'string' ? 'an unusable one' : describeValue(url)}`);
  }
  if (ref !== undefined && (typeof ref !== 'string' || !/^[\w./-]+$/.test(ref) || ref.startsWith('-'))) {
    fail('ref', `expected a branch, tag or commit name, got ${describeValue(ref)}`);
  }
  if (ref !== undefined && url === undefined) fail('ref', 'needs repository');
  const repository = typeof url === 'string' ? { url, ref: typeof ref === 'string' ? ref : undefined } : undefined;

  const image = document['image'] === undefined ? undefined : parseImage(document['image'], fail);
  const services = document['services'] === undefined ? undefined : parseServices(document['services'], fail);
  const artifacts = document['artifacts'] === undefined ? undefined : parseArtifacts(document['artifacts'], fail);
  const cache = document['cache'] === undefined ? undefined : parseCache(document['cache'], fail);
  const needs = document['needs'] === undefined ? undefined : parseJobRefs(document['needs'], 'needs', fail);
  const dependsOn = document['dependencies'] === undefined ? undefined : parseJobRefs(document['dependencies'], 'dependencies', fail);
  const traceContext = parseTraceContext(document['traceparent'], document['tracestate'], fail);
  // GitLab's rule: with needs, dependencies may only name needed jobs.
  const unneeded = needs && dependsOn?.findIndex((ref) => !needs.includes(ref));
  if (unneeded !== undefined && unneeded >= 0) {
    fail(`dependencies[${unneeded}]`, `${JSON.stringify(dependsOn![unneeded])} is not in needs (with needs, dependencies must be a subset of them)`);
  }

  return {
    name,
    script,
    beforeScript,
    afterScript,
    timeoutSeconds,
    variables,
    ...(repository ? { repository } : {}),
    ...(image ? { image } : {}),
    ...(services ? { services } : {}),
    ...(artifacts ? { artifacts } : {}),
    ...(cache ? { cache } : {}),
    ...(needs ? { needs } : {}),
    ...(dependsOn ? { dependsOn } : {}),
    ...(traceContext ? { traceContext } : {}),
  };
}

/** Reads and parses a job file; a file that cannot be read is a ConfigError too. */
export function readJobFile(path: string): LocalJobDefinition {
  return parseJobFile(readTextFile(path, 'job file'), path);
}
