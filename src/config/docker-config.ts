// [runners.docker]: GitLab Runner's keys for the docker executor, read and
// checked here so that a wrong value stops the runner at start with a line
// naming it, never a job later. Memory sizes read as Docker's (units.RAMInBytes:
// "128m", "1.5g", binary multiples); cpus as a decimal number of CPUs.
import { DOCKER_KEYS, DOCKER_SERVICE_KEYS } from './schema.ts';
import type { TableReader } from './table-reader.ts';
import { type DockerConfig, type DockerServiceConfig, PULL_POLICIES, type PullPolicy } from './types.ts';

/** Docker refuses a memory limit under 6 MiB. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
const MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: a number with an optional k/m/g/t/p (+ optional b) suffix, any case; undefined when malformed. */
export function parseMemorySize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(text);
  if (match === null) return undefined;
  const bytes = Math.floor(Number(match[1]) * MULTIPLIERS[match[2]!.toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function pullPolicies(reader: TableReader, key: string, values: readonly string[]): PullPolicy[] {
  for (const value of values) {
    if (!(PULL_POLICIES as readonly string[]).includes(value)) {
      throw reader.error(key, `expected ${PULL_POLICIES.join(', ')} (or a list of them), got ${JSON.stringify(value)}`);
    }
  }
  return [...new Set(values)] as PullPolicy[];
}

/** `host:container[:mode]` or `/container`: the container path must be absolute. */
function checkVolume(reader: TableReader, index: number, volume: string): void {
  const parts = volume.split(':');
  const container = parts.length === 1 ? parts[0]! : parts[1]!;
  if (parts.length > 3 || parts.some((part) => part === '') || !container.startsWith('/')) {
    throw reader.error(`volumes[${index}]`, `expected "/host/path:/container/path[:ro]" or "/container/path", got ${JSON.stringify(volume)}`);
  }
}

function readService(reader: TableReader): DockerServiceConfig {
  const name = reader.string('name');
  if (name === undefined || name.trim() === '') throw reader.error('name', 'required, the image of the service');
  return {
    name,
    alias: reader.string('alias'),
    entrypoint: reader.strings('entrypoint').length > 0 ? reader.strings('entrypoint') : undefined,
    command: reader.strings('command').length > 0 ? reader.strings('command') : undefined,
    environment: reader.strings('environment'),
  };
}

export function readDockerConfig(reader: TableReader): DockerConfig {
  const memory = reader.string('memory');
  const memoryBytes = memory === undefined ? undefined : parseMemorySize(memory);
  if (memory !== undefined && (memoryBytes === undefined || memoryBytes < MIN_MEMORY_BYTES)) {
    throw reader.error('memory', `expected a size of at least 6m such as "512m" or "2g", got ${JSON.stringify(memory)}`);
  }
  const cpus = reader.string('cpus');
  const cpuCount = cpus === undefined ? undefined : Number(cpus.trim());
  if (cpus !== undefined && (cpus.trim() === '' || !Number.isFinite(cpuCount) || cpuCount! <= 0 || cpuCount! > 1024)) {
    throw reader.error('cpus', `expected a number of CPUs such as "1.5", got ${JSON.stringify(cpus)}`);
  }
  const volumes = reader.strings('volumes');
  volumes.forEach((volume, i) => checkVolume(reader, i, volume));
  const host = reader.string('host');
  if (host !== undefined && !/^(unix:\/\/\/|tcp:\/\/|http:\/\/)./.test(host)) {
    throw reader.error('host', `expected unix:///path/to/docker.sock or tcp://host:port, got ${JSON.stringify(host)}`);
  }
  const pullPolicy = pullPolicies(reader, 'pull_policy', reader.stringOrStrings('pull_policy'));
  return {
    host,
    image: reader.string('image'),
    pullPolicy: pullPolicy.length > 0 ? pullPolicy : ['always'],
    allowedImages: reader.strings('allowed_images'),
    allowedServices: reader.strings('allowed_services'),
    allowedPullPolicies: pullPolicies(reader, 'allowed_pull_policies', reader.strings('allowed_pull_policies')),
    privileged: reader.boolean('privileged'),
    volumes,
    memoryBytes,
    nanoCpus: cpuCount === undefined ? undefined : Math.round(cpuCount * 1e9),
    networkMode: reader.string('network_mode'),
    services: reader.tableReaders('services', DOCKER_SERVICE_KEYS).map(readService),
    // GitLab Runner: 0 means its default (30); a negative value disables the wait.
    waitForServicesTimeout: reader.integer('wait_for_services_timeout', -1, 86_400) || DOCKER_KEYS['wait_for_services_timeout']!.default as number,
    disableCache: reader.boolean('disable_cache'),
    user: reader.string('user'),
  };
}
