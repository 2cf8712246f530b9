// A job's services (GitLab Runner's executors/docker services.go): each one a
// container of its image on the job's network, reachable by its aliases,
// started before the build container; then a wait, up to
// wait_for_services_timeout, until each answers on one of its ports
// (HEALTHCHECK_TCP_PORT, or the image's exposed TCP ports). A service that does
// not come up gets GitLab's warning with its logs; the job still runs.
import { connect } from 'node:net';
import type { DockerServiceConfig } from '../../config/types.ts';
import type { ImageSpec, JobVariable } from '../../job/model.ts';
import type { DockerEngine, HostConfig } from './engine.ts';
import { serviceAliases, splitImageName } from './naming.ts';

/** A service as the executor starts it: the config's first, then the job's. */
export interface ServiceRequest {
  readonly image: string;
  readonly aliases: readonly string[];
  readonly entrypoint: readonly string[] | undefined;
  readonly command: readonly string[] | undefined;
  /** `KEY=value` of the service's own container. */
  readonly environment: readonly string[];
  readonly pullPolicies: readonly string[];
  /** From [[runners.docker.services]]: never checked against allowed_services. */
  readonly fromConfig: boolean;
}

export function configService(service: DockerServiceConfig): ServiceRequest {
  return {
    image: service.name,
    aliases: service.alias === undefined ? [] : service.alias.split(/[\s,]+/),
    entrypoint: service.entrypoint,
    command: service.command,
    environment: service.environment,
    pullPolicies: [],
    fromConfig: true,
  };
}

export function jobService(service: ImageSpec, expand: (text: string) => string): ServiceRequest {
  return {
    image: expand(service.name),
    aliases: service.aliases,
    entrypoint: service.entrypoint.length > 0 ? service.entrypoint : undefined,
    command: service.command.length > 0 ? service.command : undefined,
    environment: service.variables.map((variable) => `${variable.key}=${expand(variable.value)}`),
    pullPolicies: service.pullPolicies,
    fromConfig: false,
  };
}

/**
 * The job's variables a service gets, as GitLab gives them (GetServiceVariables): the public ones
 * (the runner's own and what .gitlab-ci.yml sets), never a project's CI/CD variables, a masked
 * value or CI_REPOSITORY_URL with its token; then the service's own.
 */
export function serviceEnvironment(variables: readonly JobVariable[], own: readonly string[]): string[] {
  const shared = variables.filter((v) => v.public !== false && !v.masked && !v.file).map((v) => `${v.key}=${v.value}`);
  return [...shared, ...own];
}

/** The container name's part for a service: `a/b:1` as `a__b`, with its index. */
export function serviceSuffix(image: string, index: number): string {
  return `${splitImageName(image).service.replaceAll('/', '__').replace(/[^-a-zA-Z0-9_.]/g, '')}-${index}`;
}

/** `Starting service redis:7...`: the name and version as GitLab prints them (no space before the dots). */
export function startingLine(image: string): string {
  const { service, version } = splitImageName(image);
  return version.startsWith('sha256:') ? `Starting service ${service}@${version}...` : `Starting service ${service}:${version}...`;
}

/** Aliases a later service may not take again: GitLab skips them with a warning. */
export function uniqueAliases(image: string, own: readonly string[], taken: Set<string>, index: number, warn: (text: string) => void): string[] {
  const out: string[] = [];
  for (const alias of serviceAliases(image, own)) {
    if (taken.has(alias)) {
      warn(`Skipping alias ${JSON.stringify(alias)} for service ${JSON.stringify(image)} (services[${index}]): alias is already in use by another service.`);
      continue;
    }
    taken.add(alias);
    out.push(alias);
  }
  return out;
}

export interface StartedService {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly ports: readonly number[];
}

/** The ports a service is waited for: HEALTHCHECK_TCP_PORT (any case) if it sets one, else its image's exposed TCP ports (20 at most). */
export function healthPorts(environment: readonly string[], exposed: readonly number[]): number[] {
  for (const entry of environment) {
    const at = entry.indexOf('=');
    if (at > 0 && entry.slice(0, at).toUpperCase() === 'HEALTHCHECK_TCP_PORT') {
      const port = Number(entry.slice(at + 1));
      return Number.isInteger(port) && port > 0 && port < 65536 ? [port] : [];
    }
  }
  return [...exposed].sort((a, b) => a - b).slice(0, 20);
}

/** One TCP connection attempt to host:port within `ms`. */
function dial(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Waits until the service answers on any of its ports at its address on the job's network,
 * trying each second, until `deadline` (performance.now()). Resolves to the error GitLab would
 * show, or undefined when it answered.
 */
export async function waitForService(
  address: string | undefined,
  service: StartedService,
  deadline: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (service.ports.length === 0) return `service ${JSON.stringify(service.name)} has no exposed ports`;
  if (address === undefined) return `service ${JSON.stringify(service.name)} has no address on the job's network`;
  while (!signal.aborted) {
    for (const port of service.ports) if (await dial(address, port, 1_000)) return undefined;
    if (performance.now() + 1_000 > deadline) return `service ${JSON.stringify(`${service.name}-wait-for-service`)} timeout`;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return 'canceled';
}

/** GitLab's warning for a service that did not come up, with the service's last log lines. */
export async function serviceWarning(engine: DockerEngine, service: StartedService, problem: string, signal: AbortSignal): Promise<string> {
  const logs = await engine.containerLogs(service.id, { tail: 100, maxBytes: 64 * 1024, signal }).catch((error: Error) => `(no logs: ${error.message})`);
  const yellow = '\x1b[0;33m';
  const reset = '\x1b[0;m';
  return [
    '',
    `${yellow}*** WARNING:${reset} Service ${service.name} probably didn't start properly.`,
    '',
    'Health check error:',
    problem.trim(),
    '',
    'Service container logs:',
    logs.trim(),
    '',
    `${yellow}*********${reset}`,
    '',
    '',
  ].join('\n');
}

/** What every container of the job shares in its HostConfig (memory and cpus only for the build: GitLab's service_* keys are unset). */
export function sharedHostConfig(
  options: { readonly networkMode: string; readonly cgroupParent: string | undefined; readonly privileged: boolean },
): HostConfig {
  return {
    NetworkMode: options.networkMode,
    Privileged: options.privileged,
    ...(options.cgroupParent === undefined ? {} : { CgroupParent: options.cgroupParent }),
  };
}
