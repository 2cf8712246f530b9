// The job payload the test coordinator answers a job request with, shaped as
// GitLab's API::Entities::Ci::JobRequest::Response renders a
// Ci::BuildRunnerPresenter: every key the entity exposes, in its order, null
// where GitLab has nil (no image, no artifacts), GitLab's refspecs and steps.
// Sources: lib/api/entities/ci/job_request/*.rb,
// app/presenters/ci/build_runner_presenter.rb, app/models/ci/build.rb,
// lib/gitlab/ci/build/credentials/, spec/requests/api/ci/runner/jobs_request_post_spec.rb.
import { BLANK_SHA, CI_JOB_USER, DEFAULT_GIT_DEPTH, DEFAULT_TIMEOUT_SECONDS, FAILURE_REASONS } from './gitlab-rules.ts';
import { type CoordinatorAddress, hostWithPort, payloadVariables } from './predefined-variables.ts';
import type { QueuedJob } from './queued-job.ts';
import type { JobPayload } from './types.ts';

export type { CoordinatorAddress } from './predefined-variables.ts';

export function jobPayload(job: QueuedJob, server: CoordinatorAddress): JobPayload {
  const { spec, project, repository } = job;
  const name = spec.name ?? 'test';
  const stage = spec.stage ?? 'test';
  const timeout = spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const ref = repository?.ref ?? 'main';
  const depth = spec.gitDepth ?? DEFAULT_GIT_DEPTH;
  const now = job.startedAt ?? Date.now();

  const steps: unknown[] = spec.steps ? [...spec.steps] : [
    // Gitlab::Ci::Build::Step.from_commands / from_after_script
    { name: 'script', script: [...(spec.beforeScript ?? []), ...spec.script], timeout, when: 'on_success', allow_failure: false },
    ...(spec.afterScript ? [{ name: 'after_script', script: [...spec.afterScript], timeout, when: 'always', allow_failure: true }] : []),
  ];

  // Refspecs (Ci::BuildRunnerPresenter#refspecs): with a depth only the
  // pipeline's ref and the branch; a full clone takes all tags and branches.
  const refspecs = [
    `+refs/pipelines/${job.pipelineId}:refs/pipelines/${job.pipelineId}`,
    ...(depth > 0 ? [`+refs/heads/${ref}:refs/remotes/origin/${ref}`] : ['+refs/tags/*:refs/tags/*', '+refs/heads/*:refs/remotes/origin/*']),
  ];

  // Gitlab::Ci::Build::Credentials::Factory: the registry's (if any), then the
  // dependency proxy's (enabled by default), both with the job token.
  const credential = (url: string): Record<string, unknown> => ({ type: 'registry', url, username: CI_JOB_USER, password: job.token });
  const credentials = [...(server.containerRegistry ? [credential(server.containerRegistry)] : []), credential(hostWithPort(server))];

  const payload: JobPayload = {
    id: job.id,
    token: job.token,
    // Project#build_allow_git_fetch: true unless the project chose "git clone".
    allow_git_fetch: true,
    // Entities::Ci::JobRequest::JobInfo (GitLab Runner's spec.JobInfo also reads pipeline_id).
    job_info: {
      id: job.id,
      name,
      stage,
      pipeline_id: job.pipelineId,
      project_id: project.id,
      project_name: project.fullPath.split('/').pop()!,
      project_full_path: project.fullPath,
      namespace_id: project.namespaceId,
      root_namespace_id: project.rootNamespaceId,
      organization_id: 1,
      instance_id: INSTANCE_ID,
      instance_uuid: INSTANCE_UUID,
      user_id: 1,
      // Only with a composite identity (service accounts acting for a user).
      scoped_user_id: null,
      time_in_queue_seconds: Math.floor((now - job.queuedAt) / 1000),
      // BuildRunnerPresenter: "+Inf" for a runner that is not an instance runner.
      project_jobs_running_on_instance_runners_count: '+Inf',
      queue_size: 0,
      queue_depth: 0,
    },
    // Entities::Ci::JobRequest::GitInfo; Ci::Pipeline#before_sha is the blank SHA for a first push.
    git_info: {
      repo_url: job.repoUrl,
      ref,
      sha: repository?.sha ?? BLANK_SHA,
      before_sha: spec.beforeSha ?? BLANK_SHA,
      ref_type: 'branch',
      refspecs,
      depth,
      repo_object_format: 'sha1',
      protected: false,
    },
    runner_info: { timeout, runner_session_url: null },
    variables: payloadVariables(job, server),
    steps,
    // Ci::Build#runtime_hooks (Entities::Ci::JobRequest::Hook: name, script).
    hooks: (spec.hooks ?? []).map((hook) => ({ name: hook.name, script: [...hook.script] })),
    // Image.from_image is nil without `image:`; BuildRunnerPresenter#artifacts is
    // nil without `artifacts:`; services, cache and dependencies are empty lists.
    image: null,
    services: [],
    artifacts: null,
    cache: [],
    credentials,
    // Ci::Build#features: these two keys (jobs_request_post_spec matches the whole hash);
    // token_mask_prefixes, which GitLab Runner also reads, only when a test asks for it.
    features: {
      trace_sections: true,
      failure_reasons: [...FAILURE_REASONS],
      ...(spec.tokenMaskPrefixes ? { token_mask_prefixes: [...spec.tokenMaskPrefixes] } : {}),
    },
    dependencies: [],
    ...spec.extra,
  };
  for (const [path, value] of Object.entries(spec.override ?? {})) setPath(payload, path, value);
  return payload;
}

/** Gitlab::CurrentSettings.uuid and the instance id: made up, fixed for the coordinator. */
const INSTANCE_UUID = '6f1f3a3e-7d2a-4c1e-9a57-3c0b7e6f5a01';
const INSTANCE_ID = 'b2f4c6d8-1a3c-4e5f-8a9b-0c1d2e3f4a5b';

/** Sets `value` at a dotted path ("git_info.depth", "steps.0.timeout"), making objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    if (typeof next !== 'object' || next === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]!] = value;
}
