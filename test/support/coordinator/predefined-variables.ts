// The variables of a job payload, in GitLab's order (Ci::Build#variables,
// checked against the expected list in GitLab's spec/models/ci/build_spec.rb
// "#variables returns variables"): persisted, dependency proxy, job, project,
// pipeline, runner, then the job's own. Values GitLab has as nil are sent as
// null, as Collection::Item#to_runner_variable does. Taken from
// app/models/ci/build.rb, app/models/ci/pipeline.rb (persisted_variables),
// app/models/project.rb (predefined_*_variables), app/models/ci/runner.rb,
// lib/gitlab/ci/variables/builder.rb and builder/pipeline.rb,
// lib/gitlab/ci/variables/collection/item.rb.
import { BLANK_SHA, CI_JOB_USER, GITLAB_REVISION, GITLAB_VERSION, slugify } from './gitlab-rules.ts';
import type { QueuedJob } from './queued-job.ts';
import type { RunnerRecord } from './runner-api.ts';
import type { RunnerVariable } from './types.ts';

/** Where the coordinator listens, as the payload's URLs name it, and what it serves besides. */
export interface CoordinatorAddress {
  readonly url: string;
  readonly port: number;
  readonly tls: boolean;
  /** A container registry's host:port (Gitlab.config.registry.host_port), when there is one. */
  readonly containerRegistry?: string | undefined;
  /** The runner that took the job. */
  readonly runner?: RunnerRecord | undefined;
}

/** Gitlab.host_with_port: the port only when it is not the protocol's default. */
export function hostWithPort(server: CoordinatorAddress): string {
  return server.port === (server.tls ? 443 : 80) ? '127.0.0.1' : `127.0.0.1:${server.port}`;
}

/** Time#iso8601 of a UTC time: whole seconds, `Z`. */
const iso8601 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** DependencyProxy::URL_SUFFIX */
const DEPENDENCY_PROXY_SUFFIX = '/dependency_proxy/containers';

/**
 * Collection::Item: `file` and `raw` only when true, keys in GitLab's order;
 * public unless said otherwise.
 */
function item(key: string, value: string | null, options: { public?: boolean; masked?: boolean; file?: boolean; raw?: boolean } = {}): RunnerVariable {
  return {
    key,
    value,
    public: options.public ?? true,
    ...(options.file ? { file: true as const } : {}),
    masked: options.masked ?? false,
    ...(options.raw ? { raw: true as const } : {}),
  };
}

export function payloadVariables(job: QueuedJob, server: CoordinatorAddress): RunnerVariable[] {
  const { spec, project, repository } = job;
  const v = item;
  const secret = { public: false, masked: true } as const;
  const name = spec.name ?? 'test';
  const ref = repository?.ref ?? 'main';
  const sha = repository?.sha ?? BLANK_SHA;
  const namespace = project.fullPath.split('/').slice(0, -1).join('/');
  const root = namespace.split('/')[0]!;
  const projectUrl = `${server.url}/${project.fullPath}`;
  const host = hostWithPort(server);
  const message = repository?.message ?? '';
  const [title = '', ...rest] = message.split('\n');
  const runner = server.runner;

  const variables: RunnerVariable[] = [
    // Ci::Build#persisted_variables, with Ci::Pipeline#persisted_variables first.
    v('CI_PIPELINE_ID', String(job.pipelineId)),
    v('CI_PIPELINE_URL', `${projectUrl}/-/pipelines/${job.pipelineId}`),
    v('CI_JOB_ID', String(job.id)),
    v('CI_JOB_URL', `${projectUrl}/-/jobs/${job.id}`),
    v('CI_JOB_TOKEN', job.token, secret),
    v('CI_JOB_STARTED_AT', iso8601(job.startedAt ?? Date.now())),
    v('CI_REGISTRY_USER', CI_JOB_USER),
    v('CI_REGISTRY_PASSWORD', job.token, secret),
    v('CI_REPOSITORY_URL', job.repoUrl, { public: false }),
    // Ci::Build#dependency_proxy_variables: Gitlab.config.dependency_proxy.enabled is true by default.
    v('CI_DEPENDENCY_PROXY_USER', CI_JOB_USER),
    v('CI_DEPENDENCY_PROXY_PASSWORD', job.token, secret),
    // No CI_JOB_JWT*: GitLab 17.0 removed them; ID tokens only with `id_tokens:` (Ci::Build#job_jwt_variables).
    // Gitlab::Ci::Variables::Builder#predefined_variables (the job's).
    v('CI_JOB_NAME', name),
    v('CI_JOB_NAME_SLUG', slugify(name)),
    v('CI_JOB_STAGE', spec.stage ?? 'test'),
    v('CI_NODE_TOTAL', '1'),
    // Project#predefined_ci_server_variables (app/models/project.rb).
    v('CI', 'true'),
    v('GITLAB_CI', 'true'),
    v('CI_SERVER_FQDN', host),
    v('CI_SERVER_URL', server.url),
    v('CI_SERVER_HOST', '127.0.0.1'),
    v('CI_SERVER_PORT', String(server.port)),
    v('CI_SERVER_PROTOCOL', server.tls ? 'https' : 'http'),
    // gitlab_shell.ssh_host defaults to the GitLab host, ssh_port to 22.
    v('CI_SERVER_SHELL_SSH_HOST', '127.0.0.1'),
    v('CI_SERVER_SHELL_SSH_PORT', '22'),
    v('CI_SERVER_NAME', 'GitLab'),
    v('CI_SERVER_VERSION', GITLAB_VERSION),
    ...['MAJOR', 'MINOR', 'PATCH'].map((part, i) => v(`CI_SERVER_VERSION_${part}`, GITLAB_VERSION.split('.')[i]!)),
    v('CI_SERVER_REVISION', GITLAB_REVISION),
    // Project#predefined_project_variables.
    v('GITLAB_FEATURES', ''),
    v('CI_PROJECT_ID', String(project.id)),
    v('CI_PROJECT_NAME', project.fullPath.split('/').pop()!),
    v('CI_PROJECT_TITLE', project.fullPath.split('/').pop()!),
    // Project#description: nil for a project created without one.
    v('CI_PROJECT_DESCRIPTION', spec.projectDescription ?? null),
    v('CI_PROJECT_PATH', project.fullPath),
    v('CI_PROJECT_PATH_SLUG', slugify(project.fullPath)),
    v('CI_PROJECT_NAMESPACE', namespace),
    // Added in GitLab 17.10 (gitlab!181988).
    v('CI_PROJECT_NAMESPACE_SLUG', slugify(namespace)),
    v('CI_PROJECT_NAMESPACE_ID', String(project.namespaceId)),
    v('CI_PROJECT_ROOT_NAMESPACE', root),
    v('CI_PROJECT_URL', projectUrl),
    v('CI_PROJECT_VISIBILITY', 'private'),
    v('CI_PROJECT_REPOSITORY_LANGUAGES', (spec.repositoryLanguages ?? []).join(',').toLowerCase()),
    // Project#external_authorization_classification_label: nil unless external authorization sets a default label.
    v('CI_PROJECT_CLASSIFICATION_LABEL', null),
    v('CI_DEFAULT_BRANCH', ref),
    v('CI_CONFIG_PATH', '.gitlab-ci.yml'),
    // Project#container_registry_variables: only with a registry.
    ...(server.containerRegistry
      ? [v('CI_REGISTRY', server.containerRegistry), v('CI_REGISTRY_IMAGE', `${server.containerRegistry}/${project.fullPath.toLowerCase()}`)]
      : []),
    // Project#dependency_proxy_variables.
    v('CI_DEPENDENCY_PROXY_SERVER', host),
    v('CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX', `${host}/${root.toLowerCase()}${DEPENDENCY_PROXY_SUFFIX}`),
    v('CI_DEPENDENCY_PROXY_DIRECT_GROUP_IMAGE_PREFIX', `${host}/${namespace.toLowerCase()}${DEPENDENCY_PROXY_SUFFIX}`),
    // Project#api_variables, #ci_template_variables.
    v('CI_API_V4_URL', `${server.url}/api/v4`),
    v('CI_API_GRAPHQL_URL', `${server.url}/api/graphql`),
    v('CI_TEMPLATE_REGISTRY_HOST', 'registry.gitlab.com'),
    // Gitlab::Ci::Variables::Builder::Pipeline#predefined_variables (a push pipeline on a branch).
    v('CI_PIPELINE_IID', String(job.pipelineId)),
    v('CI_PIPELINE_SOURCE', 'push'),
    v('CI_PIPELINE_CREATED_AT', iso8601(job.queuedAt)),
    // Pipeline#name: nil without `workflow:name`.
    v('CI_PIPELINE_NAME', spec.pipelineName ?? null),
    v('CI_COMMIT_SHA', sha),
    v('CI_COMMIT_SHORT_SHA', sha.slice(0, 8)),
    v('CI_COMMIT_BEFORE_SHA', spec.beforeSha ?? BLANK_SHA),
    v('CI_COMMIT_REF_NAME', ref),
    v('CI_COMMIT_REF_SLUG', slugify(ref)),
    v('CI_COMMIT_BRANCH', ref),
    v('CI_COMMIT_MESSAGE', message),
    v('CI_COMMIT_TITLE', title),
    v('CI_COMMIT_DESCRIPTION', rest.join('\n').replace(/^\n+/, '')),
    v('CI_COMMIT_REF_PROTECTED', 'false'),
    v('CI_COMMIT_TIMESTAMP', repository?.timestamp ?? ''),
    v('CI_COMMIT_AUTHOR', repository?.authorName ? `${repository.authorName} <${repository.authorEmail ?? ''}>` : ''),
    // Only when the branch has open merge requests: "<project>!<iid>" comma-joined.
    ...(spec.openMergeRequests?.length ? [v('CI_OPEN_MERGE_REQUESTS', spec.openMergeRequests.join(','))] : []),
    // Ci::Runner#predefined_variables (the job has its runner when the payload is built). The tags
    // are Ruby's Array#to_s, `["a", "b"]`, no longer "a, b" (gitlab#384949).
    ...(runner
      ? [
        v('CI_RUNNER_ID', String(runner.id)),
        v('CI_RUNNER_DESCRIPTION', runner.description),
        v('CI_RUNNER_TAGS', `[${runner.tags.map((tag) => JSON.stringify(tag)).join(', ')}]`),
      ]
      : []),
    // Builder#user_variables. GitLab puts them after the job's yaml variables; they
    // come first here so that a key a test gives always wins.
    v('GITLAB_USER_ID', '1'),
    v('GITLAB_USER_EMAIL', 'test@example.com'),
    v('GITLAB_USER_LOGIN', 'test'),
    v('GITLAB_USER_NAME', 'Test User'),
    // The job's own variables (.gitlab-ci.yml and CI/CD settings).
    ...(spec.variables ?? []).map((variable) =>
      v(variable.key, variable.value, {
        public: variable.public ?? !variable.masked,
        masked: variable.masked ?? false,
        file: variable.file ?? false,
        raw: variable.raw ?? false,
      })
    ),
  ];
  const nulls = new Set(spec.nullVariables ?? []);
  return nulls.size === 0 ? variables : variables.map((variable) => nulls.has(variable.key) ? { ...variable, value: null } : variable);
}
