// The job payload of the test coordinator must be shaped as GitLab's
// (API::Entities::Ci::JobRequest::Response): every key, in order, null where
// GitLab has nil, the predefined variables in GitLab's order with their
// flags; and the JobSpec options that vary it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type JobPayload, type RunnerVariable } from './coordinator.ts';
import { client, variable, withCoordinator } from './http-client.ts';

/** GitLab's spec/models/ci/build_spec.rb "#variables" order (no pages, no registry), then the runner's and the user's. */
const PREDEFINED = [
  ...['CI_PIPELINE_ID', 'CI_PIPELINE_URL', 'CI_JOB_ID', 'CI_JOB_URL', 'CI_JOB_TOKEN', 'CI_JOB_STARTED_AT', 'CI_REGISTRY_USER', 'CI_REGISTRY_PASSWORD'],
  ...['CI_REPOSITORY_URL', 'CI_DEPENDENCY_PROXY_USER', 'CI_DEPENDENCY_PROXY_PASSWORD', 'CI_JOB_NAME', 'CI_JOB_NAME_SLUG', 'CI_JOB_STAGE', 'CI_NODE_TOTAL'],
  ...['CI', 'GITLAB_CI', 'CI_SERVER_FQDN', 'CI_SERVER_URL', 'CI_SERVER_HOST', 'CI_SERVER_PORT', 'CI_SERVER_PROTOCOL', 'CI_SERVER_SHELL_SSH_HOST'],
  ...['CI_SERVER_SHELL_SSH_PORT', 'CI_SERVER_NAME', 'CI_SERVER_VERSION', 'CI_SERVER_VERSION_MAJOR', 'CI_SERVER_VERSION_MINOR', 'CI_SERVER_VERSION_PATCH'],
  ...['CI_SERVER_REVISION', 'GITLAB_FEATURES', 'CI_PROJECT_ID', 'CI_PROJECT_NAME', 'CI_PROJECT_TITLE', 'CI_PROJECT_DESCRIPTION', 'CI_PROJECT_PATH'],
  ...['CI_PROJECT_PATH_SLUG', 'CI_PROJECT_NAMESPACE', 'CI_PROJECT_NAMESPACE_SLUG', 'CI_PROJECT_NAMESPACE_ID', 'CI_PROJECT_ROOT_NAMESPACE', 'CI_PROJECT_URL'],
  ...['CI_PROJECT_VISIBILITY', 'CI_PROJECT_REPOSITORY_LANGUAGES', 'CI_PROJECT_CLASSIFICATION_LABEL', 'CI_DEFAULT_BRANCH', 'CI_CONFIG_PATH'],
  ...['CI_DEPENDENCY_PROXY_SERVER', 'CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX', 'CI_DEPENDENCY_PROXY_DIRECT_GROUP_IMAGE_PREFIX', 'CI_API_V4_URL'],
  ...['CI_API_GRAPHQL_URL', 'CI_TEMPLATE_REGISTRY_HOST', 'CI_PIPELINE_IID', 'CI_PIPELINE_SOURCE', 'CI_PIPELINE_CREATED_AT', 'CI_PIPELINE_NAME'],
  ...['CI_COMMIT_SHA', 'CI_COMMIT_SHORT_SHA', 'CI_COMMIT_BEFORE_SHA', 'CI_COMMIT_REF_NAME', 'CI_COMMIT_REF_SLUG', 'CI_COMMIT_BRANCH', 'CI_COMMIT_MESSAGE'],
  ...[
    'CI_COMMIT_TITLE',
    'CI_COMMIT_DESCRIPTION',
    'CI_COMMIT_REF_PROTECTED',
    'CI_COMMIT_TIMESTAMP',
    'CI_COMMIT_AUTHOR',
    'CI_RUNNER_ID',
    'CI_RUNNER_DESCRIPTION',
  ],
  ...['CI_RUNNER_TAGS', 'GITLAB_USER_ID', 'GITLAB_USER_EMAIL', 'GITLAB_USER_LOGIN', 'GITLAB_USER_NAME'],
];

const keysOf = (variables: readonly RunnerVariable[], which: (v: RunnerVariable) => boolean): string[] => variables.filter(which).map((v) => v.key);

test('a payload as GitLab renders it: the entity keys in order, null where GitLab has nil, the predefined variables in order with their flags', async () => {
  await withCoordinator({}, async (coordinator) => {
    const queued = coordinator.enqueueJob({ name: 'build', script: ['make'], projectPath: 'acme/tools/app' });
    const res = await client(coordinator).requestJob();
    assert.equal(res.status, 201);
    const text = res.body.toString('utf8');
    const payload = res.json() as JobPayload;
    const host = `127.0.0.1:${new URL(coordinator.url).port}`;

    assert.deepEqual(Object.keys(payload), [
      ...['id', 'token', 'allow_git_fetch', 'job_info', 'git_info', 'runner_info', 'variables', 'steps', 'hooks', 'image', 'services', 'artifacts'],
      ...['cache', 'credentials', 'features', 'dependencies'],
    ]);
    assert.equal(payload.allow_git_fetch, true);
    assert.deepEqual([payload['image'], payload['artifacts'], payload['services'], payload['cache'], payload['dependencies'], payload.hooks], [
      null,
      null,
      [],
      [],
      [],
      [],
    ]);
    assert.deepEqual(payload['credentials'], [{ type: 'registry', url: host, username: 'gitlab-ci-token', password: queued.token }]);
    assert.deepEqual(Object.keys(payload.features), ['trace_sections', 'failure_reasons']);
    assert.equal(payload.git_info.before_sha, '0'.repeat(40));
    assert.deepEqual(payload.runner_info, { timeout: 3600, runner_session_url: null });
    const info = payload.job_info;
    assert.deepEqual([info['id'], info['pipeline_id'], info['project_full_path'], info['project_name']], [
      queued.id,
      queued.pipelineId,
      'acme/tools/app',
      'app',
    ]);
    assert.notEqual(info['namespace_id'], info['root_namespace_id'], 'acme/tools is not the root group acme');
    assert.equal(info['scoped_user_id'], null);
    assert.equal(info['project_jobs_running_on_instance_runners_count'], '+Inf');

    const variables = payload.variables;
    assert.deepEqual(variables.map((v) => v.key), PREDEFINED);
    assert.ok(variables.every((v) => Object.keys(v).join() === 'key,value,public,masked'), 'file and raw only when true');
    assert.deepEqual(keysOf(variables, (v) => v.value === null), [
      'CI_PROJECT_DESCRIPTION',
      'CI_PROJECT_CLASSIFICATION_LABEL',
      'CI_PIPELINE_NAME',
      'CI_RUNNER_DESCRIPTION',
    ]);
    assert.ok(text.includes('{"key":"CI_PROJECT_DESCRIPTION","value":null,"public":true,"masked":false}'), 'sent as JSON null');
    assert.deepEqual(keysOf(variables, (v) => v.masked), ['CI_JOB_TOKEN', 'CI_REGISTRY_PASSWORD', 'CI_DEPENDENCY_PROXY_PASSWORD']);
    assert.deepEqual(keysOf(variables, (v) => !v.public), ['CI_JOB_TOKEN', 'CI_REGISTRY_PASSWORD', 'CI_REPOSITORY_URL', 'CI_DEPENDENCY_PROXY_PASSWORD']);
    assert.equal(variable(payload, 'CI_DEPENDENCY_PROXY_PASSWORD')?.value, queued.token);
    assert.equal(variable(payload, 'CI_DEPENDENCY_PROXY_SERVER')?.value, host);
    assert.equal(variable(payload, 'CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX')?.value, `${host}/acme/dependency_proxy/containers`);
    assert.equal(variable(payload, 'CI_DEPENDENCY_PROXY_DIRECT_GROUP_IMAGE_PREFIX')?.value, `${host}/acme/tools/dependency_proxy/containers`);
    assert.equal(variable(payload, 'CI_PROJECT_NAMESPACE_SLUG')?.value, 'acme-tools');
    assert.equal(variable(payload, 'CI_PROJECT_NAMESPACE_ID')?.value, String(info['namespace_id']));
    assert.equal(variable(payload, 'CI_PROJECT_REPOSITORY_LANGUAGES')?.value, '');
    assert.equal(variable(payload, 'CI_SERVER_SHELL_SSH_PORT')?.value, '22');
    assert.equal(variable(payload, 'CI_TEMPLATE_REGISTRY_HOST')?.value, 'registry.gitlab.com');
    assert.equal(variable(payload, 'CI_COMMIT_REF_PROTECTED')?.value, 'false');
    assert.match(variable(payload, 'CI_JOB_STARTED_AT')?.value ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual([variable(payload, 'CI_RUNNER_ID')?.value, variable(payload, 'CI_RUNNER_TAGS')?.value], ['1', '[]']);
  });
});

test('JobSpec and coordinator options: hooks, null variables and fields, project and pipeline details, merge requests, registry, runner, mask prefixes', async () => {
  await withCoordinator({ containerRegistry: 'registry.example.com:5050' }, async (coordinator) => {
    coordinator.addRunnerToken('glrt-tagged', { description: 'shell runner', tags: ['docker', 'linux'] });
    const queued = coordinator.enqueueJob({
      script: ['true'],
      projectPath: 'Acme/App',
      hooks: [{ name: 'pre_get_sources_script', script: ['echo pre'] }, { name: 'post_get_sources_script', script: ['echo post', 'ls'] }],
      projectDescription: 'An app',
      repositoryLanguages: ['Shell', 'Go'],
      pipelineName: 'Nightly',
      openMergeRequests: ['Acme/App!1', 'Acme/App!2'],
      beforeSha: 'a'.repeat(40),
      tokenMaskPrefixes: ['acme-'],
      variables: [{ key: 'OPTIONAL', value: null }, { key: 'CFG', value: 'x=1', file: true, raw: true }],
      nullVariables: ['CI_COMMIT_TITLE', 'CFG'],
      override: { 'git_info.depth': null, 'steps.0.timeout': null, 'job_info.project_name': null, 'runner_info': null, 'added.deep': 1 },
    });
    const res = await client(coordinator).requestJob({ token: 'glrt-tagged' });
    assert.equal(res.status, 201);
    const payload = res.json() as JobPayload;
    const value = (key: string): string | null | undefined => variable(payload, key)?.value;

    assert.deepEqual(payload.hooks, [{ name: 'pre_get_sources_script', script: ['echo pre'] }, {
      name: 'post_get_sources_script',
      script: ['echo post', 'ls'],
    }]);
    assert.deepEqual(payload.features['token_mask_prefixes'], ['acme-']);
    assert.equal(value('CI_PROJECT_DESCRIPTION'), 'An app');
    assert.equal(value('CI_PROJECT_REPOSITORY_LANGUAGES'), 'shell,go');
    assert.equal(value('CI_PIPELINE_NAME'), 'Nightly');
    assert.equal(value('CI_OPEN_MERGE_REQUESTS'), 'Acme/App!1,Acme/App!2');
    assert.equal(value('CI_COMMIT_BEFORE_SHA'), 'a'.repeat(40));
    assert.equal(payload.git_info.before_sha, 'a'.repeat(40));
    assert.deepEqual([value('CI_REGISTRY'), value('CI_REGISTRY_IMAGE')], ['registry.example.com:5050', 'registry.example.com:5050/acme/app']);
    assert.deepEqual(payload['credentials'], [
      { type: 'registry', url: 'registry.example.com:5050', username: 'gitlab-ci-token', password: queued.token },
      { type: 'registry', url: `127.0.0.1:${new URL(coordinator.url).port}`, username: 'gitlab-ci-token', password: queued.token },
    ]);
    assert.deepEqual([value('CI_RUNNER_ID'), value('CI_RUNNER_DESCRIPTION'), value('CI_RUNNER_TAGS')], ['2', 'shell runner', '["docker", "linux"]']);

    assert.equal(value('OPTIONAL'), null);
    assert.equal(value('CI_COMMIT_TITLE'), null);
    assert.deepEqual(variable(payload, 'CFG'), { key: 'CFG', value: null, public: true, file: true, masked: false, raw: true });
    assert.deepEqual(Object.keys(variable(payload, 'CFG')!), ['key', 'value', 'public', 'file', 'masked', 'raw'], "GitLab's key order");

    assert.equal(payload.git_info.depth, null);
    assert.equal((payload.steps[0] as Record<string, unknown>)['timeout'], null);
    assert.equal(payload.job_info['project_name'], null);
    assert.equal(payload.runner_info, null);
    assert.deepEqual(payload['added'], { deep: 1 });
    assert.deepEqual(queued.payload, payload, 'the job keeps what was sent');
  });
});
