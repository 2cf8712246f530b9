// Which image a job may run and how it is got, as GitLab Runner's docker
// executor decides (common/allowed_images.go, helpers/pull_policies,
// executors/docker/internal/pull): allowed_images globs matched against the
// name as the job wrote it, pull policies tried in order, and GitLab's lines
// in the job log for each step.
import type { PullPolicy } from '../../config/types.ts';
import { PrepareError } from '../../job/executor.ts';
import { compileMatcher } from '../../system/glob.ts';
import type { DockerEngine, ImageInfo } from './engine.ts';
import { pullReference } from './naming.ts';

export type PrepareLog = (line: { readonly level: 'info' | 'warning' | 'notice' | 'error'; readonly text: string }) => void;

/** doublestar's Match of each allowed pattern against the name as written (no normalising: `alpine` is not `alpine:latest`). */
export function isAllowed(image: string, patterns: readonly string[], alwaysAllowed: readonly string[] = []): boolean {
  if (patterns.length === 0 || alwaysAllowed.includes(image)) return true;
  return patterns.some((pattern) => {
    try {
      return compileMatcher(pattern)(image);
    } catch {
      return false; // a pattern doublestar cannot compile matches nothing
    }
  });
}

/** GitLab's refusal: the lines in the log, then the job fails with `disallowed image` (a system failure there too). */
export function refuseImage(image: string, kind: 'images' | 'services', patterns: readonly string[], log: PrepareLog): PrepareError {
  log({ level: 'info', text: '' });
  log({ level: 'error', text: `The ${JSON.stringify(image)} image is not present on list of allowed ${kind}:` });
  for (const pattern of patterns) log({ level: 'info', text: `- ${pattern}` });
  log({ level: 'info', text: '' });
  log({ level: 'info', text: "Please check runner's allowed_images configuration: https://docs.gitlab.com/runner/configuration/advanced-configuration/" });
  return new PrepareError('disallowed image', 'runner_system_failure');
}

/** Go's %v of a string list: [always if-not-present]. */
const goList = (values: readonly string[]): string => `[${values.join(' ')}]`;

/**
 * The policies to try for an image: the job's (pull_policy in .gitlab-ci.yml) or the runner's,
 * kept to those allowed_pull_policies allows (by default the runner's own). None left: a
 * configuration error, with GitLab's message.
 */
export function effectivePolicies(
  image: string,
  jobPolicies: readonly string[],
  runner: { readonly pullPolicy: readonly PullPolicy[]; readonly allowedPullPolicies: readonly PullPolicy[] },
): PullPolicy[] {
  const fromJob = jobPolicies.length > 0;
  const wanted = fromJob ? jobPolicies : runner.pullPolicy;
  const allowed: readonly string[] = runner.allowedPullPolicies.length > 0 ? runner.allowedPullPolicies : runner.pullPolicy;
  const unknown = wanted.find((policy) => !['always', 'if-not-present', 'never'].includes(policy));
  if (unknown !== undefined) {
    throw new PrepareError(
      `invalid pull policy for image ${JSON.stringify(image)}: unsupported pull_policy: ${JSON.stringify(unknown)}`,
      'runner_configuration_error',
    );
  }
  const kept = wanted.filter((policy) => allowed.includes(policy)) as PullPolicy[];
  if (kept.length === 0) {
    const where = fromJob ? 'GitLab pipeline config' : 'Runner config';
    throw new PrepareError(
      `invalid pull policy for image ${JSON.stringify(image)}: pull_policy (${goList(wanted)}) defined in ${where} is not one of the allowed_pull_policies (${
        goList(allowed)
      })`,
      'runner_configuration_error',
    );
  }
  return kept;
}

/** GitLab's ClassifyImagePullFailure: what a failed pull says decides the job's failure reason. */
export function pullFailureReason(message: string): PrepareError['reason'] {
  if (/not found|manifest unknown|pull access denied|unauthorized|authentication required|denied|invalid reference/i.test(message)) {
    return 'runner_configuration_error';
  }
  // GitLab's runner_external_dependency_failure, which a coordinator takes as a system failure.
  if (/dial tcp|i\/o timeout|tls handshake|connection reset|connection refused|no such host|lookup |timeout/i.test(message)) return 'runner_system_failure';
  return 'image_pull_failure';
}

export interface ImagePullObserver {
  (event: { readonly policy: string; readonly result: 'pulled' | 'local' | 'failed'; readonly seconds: number }): void;
}

/**
 * Gets `image` under each policy in turn until one does (GitLab's pull manager), logging as it does.
 * Rejects with a PrepareError carrying GitLab's final message and failure reason.
 */
export async function fetchImage(
  engine: DockerEngine,
  image: string,
  policies: readonly PullPolicy[],
  options: { readonly log: PrepareLog; readonly signal: AbortSignal; readonly platform?: string | undefined; readonly observe?: ImagePullObserver },
): Promise<ImageInfo> {
  const { log, signal } = options;
  log({ level: 'info', text: `Using effective pull policy of ${goList(policies)} for container ${image}` });
  const reference = pullReference(image);
  let last: unknown;
  let lastFromPull = false;
  for (const [index, policy] of policies.entries()) {
    if (index > 0) log({ level: 'notice', text: `Attempt #${index + 1}: Trying ${JSON.stringify(policy)} pull policy` });
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      if (policy !== 'always') {
        const local = await engine.imageInspect(reference, signal);
        if (local !== undefined) {
          if (policy === 'if-not-present') log({ level: 'info', text: `Using locally found image version due to "if-not-present" pull policy` });
          options.observe?.({ policy, result: 'local', seconds: seconds() });
          return announce(local, image, log);
        }
        if (policy === 'never') throw new Error(`Error response from daemon: No such image: ${reference}`);
      }
      lastFromPull = true;
      log({
        level: 'info',
        text: options.platform ? `Pulling docker image ${image} for platform ${options.platform} ...` : `Pulling docker image ${image} ...`,
      });
      await engine.imagePull(reference, { platform: options.platform, signal });
      const pulled = await engine.imageInspect(reference, signal);
      if (pulled === undefined) throw new Error(`Error response from daemon: No such image: ${reference}`);
      options.observe?.({ policy, result: 'pulled', seconds: seconds() });
      return announce(pulled, image, log);
    } catch (error) {
      if (signal.aborted) throw error;
      options.observe?.({ policy, result: 'failed', seconds: seconds() });
      last = error;
      lastFromPull = policy !== 'never' && lastFromPull;
      log({ level: 'warning', text: `Failed to pull image with policy ${JSON.stringify(policy)}: ${(error as Error).message}` });
    }
  }
  const message = `failed to pull image ${JSON.stringify(image)} with specified policies ${goList(policies)}: ${(last as Error).message}`;
  // A local lookup that failed (never) is GitLab's plain error, a system failure; a pull's is classified.
  return Promise.reject(new PrepareError(message, lastFromPull ? pullFailureReason(message) : 'runner_system_failure', { cause: last }));
}

/** `Using docker image sha256:... for NAME with digest DIGEST ...`: which image the job runs, exactly. */
function announce(info: ImageInfo, image: string, log: PrepareLog): ImageInfo {
  if (info.id !== image) {
    const digest = info.repoDigests[0];
    log({
      level: 'info',
      text: digest === undefined ? `Using docker image ${info.id} for ${image} ...` : `Using docker image ${info.id} for ${image} with digest ${digest} ...`,
    });
  }
  return info;
}
