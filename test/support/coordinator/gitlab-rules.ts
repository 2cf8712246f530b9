// What GitLab defines that the test coordinator follows: constants, and the
// small rules of its Runner API (slugs, Ruby's to_i, checksums, backoff).
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The version this coordinator claims to be (CI_SERVER_VERSION). */
export const GITLAB_VERSION = '18.4.0';
export const GITLAB_REVISION = 'coordinator';
/** Gitlab::Auth::CI_JOB_USER: the user name for job tokens in git and registry URLs. */
export const CI_JOB_USER = 'gitlab-ci-token';
/** Gitlab::Git::SHA1_BLANK_SHA: before_sha of a first push. */
export const BLANK_SHA = '0'.repeat(40);
/** Enums::Ci::CommitStatus.failure_reasons (GitLab CE): what `features.failure_reasons` lists. */
export const FAILURE_REASONS: readonly string[] = [
  'unknown_failure',
  'script_failure',
  'api_failure',
  'stuck_or_timeout_failure',
  'runner_system_failure',
  'missing_dependency_failure',
  'runner_unsupported',
  'stale_schedule',
  'job_execution_timeout',
  'archived_failure',
  'unmet_prerequisites',
  'scheduler_failure',
  'data_integrity_failure',
  'forward_deployment_failure',
  'user_blocked',
  'project_deleted',
  'ci_quota_exceeded',
  'pipeline_loop_detected',
  'no_matching_runner',
  'trace_size_exceeded',
  'builds_disabled',
  'insufficient_bridge_permissions',
  'downstream_bridge_project_not_found',
  'invalid_bridge_trigger',
  'bridge_pipeline_is_child_pipeline',
  'downstream_pipeline_creation_failed',
  'secrets_provider_not_found',
  'reached_max_descendant_pipelines_depth',
];
/** The runner feature that lets a running job go to `canceling` (Ci::RegisterJobService#persist_runtime_features). */
export const CANCEL_GRACEFULLY_FEATURE = 'cancel_gracefully';

export const DEFAULT_TIMEOUT_SECONDS = 3600;
export const DEFAULT_GIT_DEPTH = 20;

/** Gitlab::Utils.slugify: lower case, runs of other characters become "-", at most 63 characters, no "-" at either end. */
export function slugify(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
}

/** Ruby's String#to_i: the leading decimal digits, 0 when there are none. */
export function rubyToI(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** GitLab Runner's checksum form for a trace. */
export function traceChecksum(data: Uint8Array): string {
  return `crc32:${crc32(data).toString(16).padStart(8, '0')}`;
}

/** Ci::BuildPendingState#crc32: the hex after "crc32:". */
export function parseChecksum(checksum: string): number {
  const hex = checksum.split('crc32:').pop() ?? '';
  const match = /^[0-9a-f]+/i.exec(hex);
  return match ? Number.parseInt(match[0], 16) : 0;
}

/**
 * Gitlab::Ci::Runner::Backoff: 1 s for the first 4 s of a pending final state,
 * then doubling per power of two of the time elapsed, at most 64 s. GitLab's
 * formula gives 2**-1 (a Rational, sent as "1/2") between 1 s and 2 s, which
 * its own doc comment calls 1 second; this gives 1 there.
 */
export function backoffSeconds(elapsedMs: number): number {
  const seconds = elapsedMs / 1000;
  if (seconds <= 1) return 1;
  const slot = Math.max(0, Math.floor(Math.log2(seconds)) - 1);
  return 2 ** Math.min(slot, 6);
}

export function newToken(prefix: string): string {
  return prefix + randomBytes(15).toString('base64url');
}
