// The job payload the test coordinator answers a job request with, as
// GitLab builds it (API::Entities::Ci::JobRequest::Response): predefined
// variables, git_info with GitLab's refspecs, steps from the job's scripts.
import {
  BLANK_SHA,
  CI_JOB_USER,
  DEFAULT_GIT_DEPTH,
  DEFAULT_TIMEOUT_SECONDS,
  FAILURE_REASONS,
  GITLAB_REVISION,
  GITLAB_VERSION,
  slugify,
} from './gitlab-rules.ts';
import type { QueuedJob } from './queued-job.ts';
import type { JobPayload, RunnerVariable } from './types.ts';

/** Where the coordinator listens, as the payload's URLs name it. */
export interface CoordinatorAddress {
  readonly url: string;
  readonly port: number;
  readonly tls: boolean;
}

export function jobPayload(job: QueuedJob, server: CoordinatorAddress): JobPayload {
  const spec = job.spec;
  const project = job.project;
  const repository = job.repository;
  const name = spec.name ?? 'test';
  const stage = spec.stage ?? 'test';
  const timeout = spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const ref = repository?.ref ?? 'main';
  const sha = repository?.sha ?? BLANK_SHA;
  const depth = spec.gitDepth ?? DEFAULT_GIT_DEPTH;
  const projectName = project.fullPath.split('/').pop()!;
  const namespace = project.fullPath.split('/').slice(0, -1).join('/');
  const projectUrl = `${server.url}/${project.fullPath}`;

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

  const message = repository?.message ?? '';
  const [title = '', ...rest] = message.split('\n');
  const author = repository?.authorName ? `${repository.authorName} <${repository.authorEmail ?? ''}>` : '';
  const v = (key: string, value: string, extra: Partial<RunnerVariable> = {}): RunnerVariable => ({ key, value, public: true, masked: false, ...extra });
  const secret = { public: false, masked: true } as const;
  const variables: RunnerVariable[] = [
    // Ci::Build#persisted_variables (with the pipeline's)
    v('CI_PIPELINE_ID', String(job.pipelineId)),
    v('CI_PIPELINE_URL', `${projectUrl}/-/pipelines/${job.pipelineId}`),
    v('CI_JOB_ID', String(job.id)),
    v('CI_JOB_URL', `${projectUrl}/-/jobs/${job.id}`),
    v('CI_JOB_TOKEN', job.token, secret),
    v('CI_JOB_STARTED_AT', new Date(job.startedAt ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z')),
    v('CI_REGISTRY_USER', CI_JOB_USER),
    v('CI_REGISTRY_PASSWORD', job.token, secret),
    v('CI_REPOSITORY_URL', job.repoUrl, { public: false }),
    // Gitlab::Ci::Variables::Builder#predefined_variables
    v('CI_JOB_NAME', name),
    v('CI_JOB_NAME_SLUG', slugify(name)),
    v('CI_JOB_STAGE', stage),
    v('CI_NODE_TOTAL', '1'),
    // Project#predefined_ci_server_variables
    v('CI', 'true'),
    v('GITLAB_CI', 'true'),
    v('CI_SERVER_FQDN', `127.0.0.1:${server.port}`),
    v('CI_SERVER_URL', server.url),
    v('CI_SERVER_HOST', '127.0.0.1'),
    v('CI_SERVER_PORT', String(server.port)),
    v('CI_SERVER_PROTOCOL', server.tls ? 'https' : 'http'),
    v('CI_SERVER_NAME', 'GitLab'),
    v('CI_SERVER_VERSION', GITLAB_VERSION),
    ...['MAJOR', 'MINOR', 'PATCH'].map((part, i) => v(`CI_SERVER_VERSION_${part}`, GITLAB_VERSION.split('.')[i]!)),
    v('CI_SERVER_REVISION', GITLAB_REVISION),
    v('GITLAB_FEATURES', ''),
    // Project#predefined_project_variables
    v('CI_PROJECT_ID', String(project.id)),
    v('CI_PROJECT_NAME', projectName),
    v('CI_PROJECT_TITLE', projectName),
    v('CI_PROJECT_PATH', project.fullPath),
    v('CI_PROJECT_PATH_SLUG', slugify(project.fullPath)),
    v('CI_PROJECT_NAMESPACE', namespace),
    v('CI_PROJECT_NAMESPACE_ID', String(project.namespaceId)),
    v('CI_PROJECT_ROOT_NAMESPACE', namespace.split('/')[0]!),
    v('CI_PROJECT_URL', projectUrl),
    v('CI_PROJECT_VISIBILITY', 'private'),
    v('CI_DEFAULT_BRANCH', ref),
    v('CI_CONFIG_PATH', '.gitlab-ci.yml'),
    v('CI_API_V4_URL', `${server.url}/api/v4`),
    v('CI_API_GRAPHQL_URL', `${server.url}/api/graphql`),
    // Gitlab::Ci::Variables::Builder::Pipeline
    v('CI_PIPELINE_IID', String(job.pipelineId)),
    v('CI_PIPELINE_SOURCE', 'push'),
    v('CI_PIPELINE_CREATED_AT', new Date(job.queuedAt).toISOString().replace(/\.\d{3}Z$/, 'Z')),
    v('CI_COMMIT_SHA', sha),
    v('CI_COMMIT_SHORT_SHA', sha.slice(0, 8)),
    v('CI_COMMIT_BEFORE_SHA', BLANK_SHA),
    v('CI_COMMIT_REF_NAME', ref),
    v('CI_COMMIT_REF_SLUG', slugify(ref)),
    v('CI_COMMIT_BRANCH', ref),
    v('CI_COMMIT_MESSAGE', message),
    v('CI_COMMIT_TITLE', title),
    v('CI_COMMIT_DESCRIPTION', rest.join('\n').replace(/^\n+/, '')),
    v('CI_COMMIT_REF_PROTECTED', 'false'),
    v('CI_COMMIT_TIMESTAMP', repository?.timestamp ?? ''),
    v('CI_COMMIT_AUTHOR', author),
    // Builder#user_variables
    v('GITLAB_USER_ID', '1'),
    v('GITLAB_USER_EMAIL', 'test@example.com'),
    v('GITLAB_USER_LOGIN', 'test'),
    v('GITLAB_USER_NAME', 'Test User'),
    // The job's own variables (.gitlab-ci.yml and CI/CD settings) come after
    // the predefined ones.
    ...(spec.variables ?? []).map((variable) =>
      v(variable.key, variable.value, {
        public: variable.public ?? !variable.masked,
        masked: variable.masked ?? false,
        ...(variable.file ? { file: true } : {}),
        ...(variable.raw ? { raw: true } : {}),
      })
    ),
  ];

  return {
    id: job.id,
    token: job.token,
    allow_git_fetch: true,
    job_info: {
      id: job.id,
      name,
      stage,
      pipeline_id: job.pipelineId,
      project_id: project.id,
      project_name: projectName,
      project_full_path: project.fullPath,
      namespace_id: project.namespaceId,
      root_namespace_id: project.namespaceId,
      user_id: 1,
      time_in_queue_seconds: Math.floor(((job.startedAt ?? Date.now()) - job.queuedAt) / 1000),
    },
    git_info: {
      repo_url: job.repoUrl,
      ref,
      sha,
      before_sha: BLANK_SHA,
      ref_type: 'branch',
      refspecs,
      depth,
      repo_object_format: 'sha1',
      protected: false,
    },
    runner_info: { timeout, runner_session_url: null },
    variables,
    steps,
    hooks: [],
    image: null,
    services: [],
    artifacts: [],
    cache: [],
    credentials: [],
    dependencies: [],
    // FACTS.md lists `features` as something a shell executor ignores; GitLab
    // fills it (Ci::Build#features), it is never empty.
    features: { trace_sections: true, failure_reasons: [...FAILURE_REASONS] },
    ...spec.extra,
  };
}
