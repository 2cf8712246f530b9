// The parts of a job payload that describe images, services, artifacts,
// cache and dependencies, read as leniently as GitLab Runner decodes them:
// unknown fields are ignored, a null or a value of the wrong type reads as
// absent, and an entry that is not an object is skipped. Nothing here fails
// a job: what the runner does with these specs is the build sequence's call.
import type { ArtifactSpec, ArtifactWhen, CacheSpec, DependencySpec, ImageSpec, JobVariable } from '../../job/model.ts';

type Table = Record<string, unknown>;

export const isTable = (value: unknown): value is Table => typeof value === 'object' && value !== null && !Array.isArray(value);

function text(table: Table, key: string): string | undefined {
  const value = table[key];
  return typeof value === 'string' ? value : undefined;
}

function texts(table: Table, key: string): string[] {
  const value = table[key];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function tables(value: unknown): Table[] {
  return Array.isArray(value) ? value.filter(isTable) : [];
}

function oneOf<T extends string>(value: string | undefined, choices: readonly T[], fallback: T): T {
  return (choices as readonly string[]).includes(value ?? '') ? value as T : fallback;
}

/** GitLab Runner's aliases: separated by commas or white space. */
function aliases(alias: string | undefined): string[] {
  return (alias ?? '').split(/[\s,]+/).filter((name) => name !== '');
}

function serviceVariables(value: unknown): JobVariable[] {
  return tables(value).flatMap((entry) => {
    const key = text(entry, 'key');
    return key === undefined ? [] : [{ key, value: text(entry, 'value') ?? '', masked: false }];
  });
}

function image(table: Table): ImageSpec | undefined {
  const name = text(table, 'name');
  if (name === undefined || name === '') return undefined;
  return {
    name,
    aliases: aliases(text(table, 'alias')),
    entrypoint: texts(table, 'entrypoint'),
    command: texts(table, 'command'),
    pullPolicies: texts(table, 'pull_policy'),
    variables: serviceVariables(table['variables']),
    ...dockerOptions(table['executor_opts']),
  };
}

/** executor_opts.docker: platform, and user (a string or a number in the payload). */
function dockerOptions(value: unknown): { platform?: string; user?: string } {
  if (!isTable(value) || !isTable(value['docker'])) return {};
  const docker = value['docker'];
  const platform = text(docker, 'platform');
  const user = typeof docker['user'] === 'number' ? String(docker['user']) : text(docker, 'user');
  return { ...(platform ? { platform } : {}), ...(user ? { user } : {}) };
}

export function readImage(value: unknown): ImageSpec | undefined {
  return isTable(value) ? image(value) : undefined;
}

export function readServices(value: unknown): ImageSpec[] {
  return tables(value).flatMap((entry) => image(entry) ?? []);
}

const WHEN: readonly ArtifactWhen[] = ['on_success', 'on_failure', 'always'];

export function readArtifacts(value: unknown): ArtifactSpec[] {
  return tables(value).map((entry) => ({
    name: text(entry, 'name') || undefined,
    paths: texts(entry, 'paths'),
    exclude: texts(entry, 'exclude'),
    untracked: entry['untracked'] === true,
    when: oneOf(text(entry, 'when'), WHEN, 'on_success'),
    type: text(entry, 'artifact_type') || 'archive',
    format: text(entry, 'artifact_format') || 'zip',
    expireIn: text(entry, 'expire_in') || undefined,
  }));
}

export function readCache(value: unknown): CacheSpec[] {
  return tables(value).map((entry) => ({
    key: text(entry, 'key') ?? '',
    paths: texts(entry, 'paths'),
    untracked: entry['untracked'] === true,
    // Kept as sent: GitLab Runner expands it and fails the cache stage on an unknown one (src/cache).
    policy: text(entry, 'policy') ?? '',
    when: oneOf(text(entry, 'when'), WHEN, 'on_success'),
    fallbackKeys: texts(entry, 'fallback_keys'),
  }));
}

export function readDependencies(value: unknown): DependencySpec[] {
  return tables(value).flatMap((entry) => {
    const id = entry['id'];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return [];
    const file = entry['artifacts_file'];
    const filename = isTable(file) ? text(file, 'filename') : undefined;
    const size = isTable(file) && typeof file['size'] === 'number' ? file['size'] : 0;
    return [{
      id: String(id),
      name: text(entry, 'name') ?? '',
      token: text(entry, 'token') ?? '',
      artifactsFile: filename === undefined || filename === '' ? undefined : { filename, size },
    }];
  });
}
