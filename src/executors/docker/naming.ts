// The names and labels of what the docker executor makes, as GitLab Runner
// makes them (executors/docker, helpers/dns): containers named after the
// project and job slot, labels under com.gitlab.gitlab-runner, and the
// aliases a service answers to on the job's network.

/** GitLab Runner's label prefix. */
export const LABEL_PREFIX = 'com.gitlab.gitlab-runner';

/** dns.MakeRFC1123Compatible: lower case, [-a-z0-9] only, starting with an alphanumeric, at most 63 characters. */
export function rfc1123(name: string): string {
  return name.toLowerCase().replace(/[^-a-z0-9]/g, '').replace(/^[^a-z0-9]+/, '').slice(0, 63).replace(/-+$/, '');
}

export interface JobIdentity {
  readonly shortToken: string;
  readonly systemId: string;
  readonly runnerName: string;
  readonly jobId: string;
  readonly projectId: number;
  readonly concurrentProjectId: number;
  /** 16 hex characters, the same for every container of the job. */
  readonly random: string;
}

/** ProjectUniqueName: runner-TOKEN-project-ID-concurrent-N; the build container's host name. */
export function projectUniqueName(job: JobIdentity): string {
  return rfc1123(`runner-${job.shortToken}-project-${job.projectId}-concurrent-${job.concurrentProjectId}`);
}

/** A container's name: the project's unique name, the job's random part and what it is (build, a service, ...). */
export function containerName(job: JobIdentity, suffix: string): string {
  return `${projectUniqueName(job)}-${job.random}-${suffix}`;
}

/** The job's network (GitLab's ProjectUniqueShortName, with the job's random part: two runs of one job never share one). */
export function networkName(job: JobIdentity): string {
  return rfc1123(`runner-${job.shortToken}-${job.projectId}-${job.concurrentProjectId}-${job.jobId}-${job.random.slice(0, 8)}`);
}

/** The labels every container and network of the job carries; `type` says what it is (build, service, network). */
export function jobLabels(job: JobIdentity, type: string): Record<string, string> {
  return {
    [`${LABEL_PREFIX}.managed`]: 'true',
    [`${LABEL_PREFIX}.job.id`]: job.jobId,
    [`${LABEL_PREFIX}.project.id`]: String(job.projectId),
    [`${LABEL_PREFIX}.project.runner_id`]: String(job.concurrentProjectId),
    [`${LABEL_PREFIX}.runner.id`]: job.shortToken,
    [`${LABEL_PREFIX}.runner.system_id`]: job.systemId,
    // Not one of GitLab's: runners without a token (the local queue's) are told apart by name.
    [`${LABEL_PREFIX}.runner.name`]: job.runnerName,
    [`${LABEL_PREFIX}.type`]: type,
  };
}

/** The labels that find everything one runner made (its leftovers after a crash). */
export function runnerLabels(runner: Pick<JobIdentity, 'shortToken' | 'systemId' | 'runnerName'>): Record<string, string> {
  return {
    [`${LABEL_PREFIX}.managed`]: 'true',
    [`${LABEL_PREFIX}.runner.id`]: runner.shortToken,
    [`${LABEL_PREFIX}.runner.system_id`]: runner.systemId,
    [`${LABEL_PREFIX}.runner.name`]: runner.runnerName,
  };
}

/** An image name split as GitLab's SplitNameAndVersion: the repository without a registry port, and the tag or digest. */
export function splitImageName(image: string): { service: string; version: string } {
  let name = image;
  let version = 'latest';
  const at = name.indexOf('@');
  if (at >= 0) {
    version = name.slice(at + 1);
    name = name.slice(0, at);
  } else {
    const slash = name.lastIndexOf('/');
    const colon = name.lastIndexOf(':');
    if (colon > slash) {
      version = name.slice(colon + 1);
      name = name.slice(0, colon);
    }
  }
  // A registry's port (host:5000/a/b) is not part of the service's name.
  const parts = name.split('/');
  if (parts.length > 1 && /[.:]/.test(parts[0]!)) parts[0] = parts[0]!.replace(/:\d+$/, '');
  return { service: parts.join('/'), version };
}

/** A service's host names: `a/b` as `a__b` and `a-b`, then the job's own aliases. */
export function serviceAliases(image: string, own: readonly string[]): string[] {
  const { service } = splitImageName(image);
  const aliases = [service.replaceAll('/', '__')];
  const dashed = service.replaceAll('/', '-');
  if (dashed !== aliases[0]) aliases.push(dashed);
  for (const alias of own) if (alias !== '' && !aliases.includes(alias)) aliases.push(alias);
  return aliases;
}

/** The reference a pull asks for: `:latest` added to a name with neither tag nor digest. */
export function pullReference(image: string): string {
  const slash = image.lastIndexOf('/');
  return image.includes('@') || image.lastIndexOf(':') > slash ? image : `${image}:latest`;
}
