// A coordinator's job payload as the job model, case by case: what is read,
// what is refused (naming the field, never a value), and what is read
// leniently (images, services, artifacts, cache, dependencies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../../../src/job/model.ts';
import { parseJobPayload, PayloadError } from '../../../../src/sources/gitlab/payload.ts';

const TOKEN = 'glcbt-s3cret-job-token';

/** A payload as GitLab sends it, trimmed to what the runner reads. */
function payload(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 42,
    token: TOKEN,
    job_info: { name: 'build', stage: 'test' },
    git_info: {
      repo_url: `https://gitlab-ci-token:${TOKEN}@gitlab.example/g/p.git`,
      ref: 'main',
      sha: 'a'.repeat(40),
      refspecs: ['+refs/heads/main:refs/remotes/origin/main'],
      depth: 20,
    },
    runner_info: { timeout: 600 },
    variables: [
      { key: 'CI_JOB_URL', value: 'https://gitlab.example/g/p/-/jobs/42', public: true, masked: false },
      { key: 'PLAIN', value: '$HOME/x', public: true, masked: false },
    ],
    steps: [{ name: 'script', script: ['make'], timeout: 600, when: 'on_success' }],
    ...extra,
  };
}

type Check = (job: Job, webUrl: string | undefined) => void;
const GOOD: ReadonlyArray<readonly [string, Record<string, unknown>, Check]> = [
  ['the basics', payload(), (job, webUrl) => {
    assert.equal(job.id, '42');
    assert.equal(job.name, 'build');
    assert.deepEqual(job.script, ['make']);
    assert.deepEqual(job.afterScript, []);
    assert.equal(job.timeoutSeconds, 600);
    assert.deepEqual(job.secrets, [TOKEN]);
    assert.equal(webUrl, 'https://gitlab.example/g/p/-/jobs/42');
    assert.deepEqual(job.repository, {
      url: `https://gitlab-ci-token:${TOKEN}@gitlab.example/g/p.git`,
      ref: 'main',
      sha: 'a'.repeat(40),
      refspecs: ['+refs/heads/main:refs/remotes/origin/main'],
      depth: 20,
    });
    assert.equal(job.image, undefined);
    assert.deepEqual([job.services, job.artifacts, job.cache, job.dependencies], [[], [], [], []]);
  }],
  ['no job name: "job ID"', payload({ job_info: {} }), (job) => assert.equal(job.name, 'job 42')],
  ["no timeout: GitLab Runner's default of 2 hours", payload({ runner_info: {} }), (job) => assert.equal(job.timeoutSeconds, 7200)],
  [
    'after_script and named steps',
    payload({
      steps: [
        { name: 'script', script: ['a'] },
        { name: 'release', script: ['r'] },
        { name: 'after_script', script: ['z'] },
      ],
    }),
    (job) => {
      assert.deepEqual(job.afterScript, ['z']);
      assert.deepEqual(job.extraSteps, [{ name: 'release', script: ['r'] }]);
    },
  ],
  [
    'variables: masked, file, raw (not expanded) and expanded',
    payload({
      variables: [
        { key: 'M', value: 'masked-value', masked: true },
        { key: 'F', value: 'file content', file: true },
        { key: 'R', value: '$NOT', raw: true },
        { key: 'E', value: '$YES', public: true },
      ],
    }),
    (job) =>
      // `public` as GitLab marks it: what a service may be given.
      assert.deepEqual(job.variables, [
        { key: 'M', value: 'masked-value', masked: true, file: false, expand: true, public: false },
        { key: 'F', value: 'file content', masked: false, file: true, expand: true, public: false },
        { key: 'R', value: '$NOT', masked: false, file: false, expand: false, public: false },
        { key: 'E', value: '$YES', masked: false, file: false, expand: true, public: true },
      ]),
  ],
  ['a variable no shell can name is left out with a warning', payload({ variables: [{ key: 'A-B', value: 'x' }] }), (job) => {
    assert.deepEqual(job.variables, []);
    assert.deepEqual(job.warnings, ['variable "A-B" is not a valid shell variable name and was ignored']);
  }],
  ['no repository url: no get_sources', payload({ git_info: { repo_url: '' } }), (job) => assert.equal(job.repository, undefined)],
  ['depth 0: a full clone', payload({ git_info: { repo_url: 'https://x/y.git', depth: 0 } }), (job) => assert.equal(job.repository?.depth, undefined)],
  [
    'image and services, with aliases split as GitLab Runner does',
    payload({
      image: { name: 'node:20', entrypoint: [''], pull_policy: ['if-not-present'] },
      services: [
        { name: 'postgres:16', alias: 'db,database  pg', variables: [{ key: 'POSTGRES_PASSWORD', value: 'x' }], command: ['postgres', '-c', 'fsync=off'] },
        { alias: 'no-name' },
        'not an object',
      ],
    }),
    (job) => {
      assert.deepEqual(job.image, { name: 'node:20', aliases: [], entrypoint: [''], command: [], pullPolicies: ['if-not-present'], variables: [] });
      assert.deepEqual(job.services, [{
        name: 'postgres:16',
        aliases: ['db', 'database', 'pg'],
        entrypoint: [],
        command: ['postgres', '-c', 'fsync=off'],
        pullPolicies: [],
        variables: [{ key: 'POSTGRES_PASSWORD', value: 'x', masked: false }],
      }]);
      assert.deepEqual(job.warnings, ['job payload: services: 2 entries could not be read and were ignored']);
    },
  ],
  ['an image without a name is no image', payload({ image: { name: '', entrypoint: null } }), (job) => {
    assert.equal(job.image, undefined);
    assert.deepEqual(job.warnings, [], 'nothing was asked for');
  }],
  ['what cannot be read is a warning, never dropped silently', payload({ image: 'alpine', artifacts: { paths: ['dist'] }, cache: 'node_modules' }), (job) => {
    assert.deepEqual([job.image, job.artifacts, job.cache], [undefined, [], []]);
    assert.deepEqual(job.warnings, [
      'job payload: image: could not be read and was ignored',
      'job payload: artifacts: 1 entry could not be read and was ignored',
      'job payload: cache: 1 entry could not be read and was ignored',
    ]);
  }],
  ['a dependency without a usable id is a warning', payload({ dependencies: [{ id: 'x', name: 'broken' }] }), (job) => {
    assert.deepEqual(job.dependencies, []);
    assert.deepEqual(job.warnings, ['job payload: dependencies: 1 entry could not be read and was ignored']);
  }],
  [
    "artifacts with GitLab's defaults",
    payload({
      artifacts: [
        { name: 'dist', paths: ['dist/', 7], exclude: ['dist/*.map'], untracked: false, when: 'always', expire_in: '1 week' },
        { paths: ['junit.xml'], artifact_type: 'junit', artifact_format: 'gzip', when: 'sometimes' },
      ],
    }),
    (job) =>
      assert.deepEqual(job.artifacts, [
        { name: 'dist', paths: ['dist/'], exclude: ['dist/*.map'], untracked: false, when: 'always', type: 'archive', format: 'zip', expireIn: '1 week' },
        { name: undefined, paths: ['junit.xml'], exclude: [], untracked: false, when: 'on_success', type: 'junit', format: 'gzip', expireIn: undefined },
      ]),
  ],
  [
    'cache: policy, when and fallback keys',
    payload({
      cache: [
        { key: 'deps-main', paths: ['node_modules/'], policy: 'pull', when: 'on_failure', fallback_keys: ['deps-default'] },
        { key: 'other', paths: null, untracked: true },
        { key: 'var', paths: ['x'], policy: '$CACHE_POLICY' },
      ],
    }),
    (job) =>
      assert.deepEqual(job.cache, [
        { key: 'deps-main', paths: ['node_modules/'], untracked: false, policy: 'pull', when: 'on_failure', fallbackKeys: ['deps-default'] },
        // No policy: '' (GitLab Runner reads it as pull-push); a variable stays for the build to expand.
        { key: 'other', paths: [], untracked: true, policy: '', when: 'on_success', fallbackKeys: [] },
        { key: 'var', paths: ['x'], untracked: false, policy: '$CACHE_POLICY', when: 'on_success', fallbackKeys: [] },
      ]),
  ],
  [
    'dependencies, with and without an archive',
    payload({
      dependencies: [
        { id: 40, name: 'build', token: 'dep-token', artifacts_file: { filename: 'artifacts.zip', size: 1234 } },
        { id: 41, name: 'lint', token: 'dep-token-2', artifacts_file: null },
      ],
    }),
    (job) =>
      assert.deepEqual(job.dependencies, [
        { id: '40', name: 'build', token: 'dep-token', artifactsFile: { filename: 'artifacts.zip', size: 1234 } },
        { id: '41', name: 'lint', token: 'dep-token-2', artifactsFile: undefined },
      ]),
  ],
  [
    'GitLab\'s nulls read as Go\'s zero values: a null variable value is "", null fields are absent, a null step script is empty',
    payload({
      variables: [{ key: 'CI_PROJECT_DESCRIPTION', value: null, public: true, masked: false }, { key: 'CI_PIPELINE_NAME', value: null }],
      git_info: { repo_url: 'https://x/y.git', ref: 'main', sha: null, before_sha: null, ref_type: null, refspecs: null, depth: null, protected: null },
      runner_info: { timeout: null, runner_session_url: null },
      job_info: { name: null, scoped_user_id: null },
      steps: [{ name: 'script', script: ['a'], timeout: null, when: null, allow_failure: null }, { name: 'after_script', script: null }],
      image: null,
      services: null,
      artifacts: null,
      cache: null,
      dependencies: null,
      hooks: null,
      features: null,
      allow_git_fetch: null,
    }),
    (job) => {
      assert.deepEqual(job.variables.map((v) => [v.key, v.value]), [['CI_PROJECT_DESCRIPTION', ''], ['CI_PIPELINE_NAME', '']]);
      assert.deepEqual(job.repository, { url: 'https://x/y.git', ref: 'main', sha: undefined, refspecs: [], depth: undefined });
      assert.equal(job.timeoutSeconds, 7200);
      assert.equal(job.name, 'job 42');
      assert.deepEqual(job.script, ['a']);
      assert.deepEqual(job.afterScript, []);
      assert.equal(job.allowGitFetch, false);
      assert.deepEqual(job.hooks, { preGetSources: [], postGetSources: [] });
      assert.equal(job.features?.traceSections, false);
      assert.deepEqual(job.warnings, [], 'nothing was asked for that is not done');
    },
  ],
  [
    "fields the runner does not know are ignored, as GitLab Runner's decoder does",
    payload({
      brand_new_field: { nested: [1, 2] },
      policy_options: null,
      runner_info: { timeout: 600, uuid: 'x', something: true },
      git_info: { repo_url: 'https://x/y.git', extra: 1 },
    }),
    (job) => {
      assert.equal(job.timeoutSeconds, 600);
      assert.equal(job.repository?.url, 'https://x/y.git');
      assert.deepEqual(job.warnings, []);
    },
  ],
  [
    'hooks: the first of each name; features: trace sections, token prefixes; allow_git_fetch',
    payload({
      allow_git_fetch: true,
      hooks: [
        { name: 'pre_get_sources_script', script: ['echo pre', 'echo pre 2'] },
        { name: 'post_get_sources_script', script: ['echo post'] },
        { name: 'pre_get_sources_script', script: ['echo ignored'] },
        { name: 'unknown_hook', script: ['echo unknown'] },
      ],
      features: { trace_sections: true, token_mask_prefixes: ['tok-', 7], failure_reasons: ['script_failure'] },
    }),
    (job) => {
      assert.equal(job.allowGitFetch, true);
      assert.deepEqual(job.hooks, { preGetSources: ['echo pre', 'echo pre 2'], postGetSources: ['echo post'] });
      assert.equal(job.features?.traceSections, true);
      assert.deepEqual(job.features?.tokenMaskPrefixes, ['tok-']);
      assert.equal(job.features?.timestamps, true, "FF_TIMESTAMPS is on unless the job says otherwise, as GitLab Runner's default");
    },
  ],
];

for (const [what, body, check] of GOOD) {
  test(`payload: ${what}`, () => {
    const parsed = parseJobPayload(JSON.stringify(body));
    assert.equal(parsed.token, TOKEN);
    check(parsed.job, parsed.webUrl);
  });
}

test('payload: CI_DEBUG_TRACE (Go booleans, the last definition) and features.failure_reasons reach the coordinator job', () => {
  const read = (extra: Record<string, unknown>) => parseJobPayload(JSON.stringify(payload(extra)));
  assert.equal(read({}).debugTrace, false);
  assert.equal(read({ variables: [{ key: 'CI_DEBUG_TRACE', value: 'True' }] }).debugTrace, true);
  assert.equal(read({ variables: [{ key: 'CI_DEBUG_TRACE', value: 'true' }, { key: 'CI_DEBUG_TRACE', value: '0' }] }).debugTrace, false);
  assert.equal(read({ variables: [{ key: 'CI_DEBUG_TRACE', value: 'yes' }] }).debugTrace, false, 'not a Go boolean');
  assert.equal(read({}).failureReasons, undefined, 'a coordinator that lists none');
  assert.deepEqual(read({ features: { failure_reasons: ['script_failure', 3, 'unknown_failure'] } }).failureReasons, ['script_failure', 'unknown_failure']);
});

const BAD: ReadonlyArray<readonly [string, string, RegExp]> = [
  ['not JSON', '{"id":', /^job payload: not valid JSON$/],
  ['not an object', '[1]', /^job payload: expected a JSON object$/],
  ['no id', JSON.stringify(payload({ id: undefined })), /^job payload: id: expected a positive integer$/],
  ['an empty token', JSON.stringify(payload({ token: '' })), /^job payload: token: expected a non-empty string$/],
  ['no script step', JSON.stringify(payload({ steps: [{ name: 'after_script', script: ['x'] }] })), /^job payload: steps: has no step named script$/],
  [
    'a step without lines',
    JSON.stringify(payload({ steps: [{ name: 'script', script: 'make' }] })),
    /^job payload: steps\[0\]\.script: expected an array of strings$/,
  ],
  [
    'a variable that is not {key, value}',
    JSON.stringify(payload({ variables: [{ key: 'A' }] })),
    /^job payload: variables\[0\]: expected \{key, value\} strings$/,
  ],
  [
    'a sha that is not a commit id',
    JSON.stringify(payload({ git_info: { repo_url: 'https://x/y.git', sha: '--upload-pack=evil' } })),
    /^job payload: git_info\.sha: expected a commit id \(hex\)$/,
  ],
  [
    'a refspec that would be an option',
    JSON.stringify(payload({ git_info: { repo_url: 'https://x/y.git', refspecs: ['--upload-pack=evil'] } })),
    /^job payload: git_info: a ref or refspec is not a valid git argument$/,
  ],
];

for (const [what, text, message] of BAD) {
  test(`payload refused: ${what}`, () => {
    assert.throws(() => parseJobPayload(text), (error: unknown) => {
      assert.ok(error instanceof PayloadError);
      assert.match(error.message, message);
      assert.ok(!error.message.includes(TOKEN), 'no token in the message');
      return true;
    });
  });
}

test("payload: no runner_info.timeout is GitLab Runner's default of 2 hours; job inputs are named in a warning, never dropped silently", () => {
  for (const runnerInfo of [{}, { timeout: 0 }, { timeout: null }]) {
    assert.equal(parseJobPayload(JSON.stringify(payload({ runner_info: runnerInfo }))).job.timeoutSeconds, 7200, JSON.stringify(runnerInfo));
  }
  assert.deepEqual(parseJobPayload(JSON.stringify(payload({ inputs: [] }))).job.warnings, []);
  const withInputs = parseJobPayload(JSON.stringify(payload({ inputs: [{ key: 'env', value: { type: 'string', content: 'prod' } }] }))).job;
  assert.match(withInputs.warnings?.join('\n') ?? '', /inputs: job inputs are not interpolated by this runner/);
});

test("payload: job_info's queue time, size, depth and project jobs running reach the job; bad or unbounded values are left out", () => {
  const info = (extra: Record<string, unknown>) => parseJobPayload(JSON.stringify(payload({ job_info: { name: 'build', ...extra } }))).queue;
  assert.deepEqual(info({ time_in_queue_seconds: 12.5, queue_size: 3, queue_depth: 1, project_jobs_running_on_instance_runners_count: '+Inf' }), {
    waitedSeconds: 12.5,
    size: 3,
    depth: 1,
    projectJobsRunning: '+Inf',
  });
  assert.equal(info({ time_in_queue_seconds: 4, project_jobs_running_on_instance_runners_count: '3+' })?.projectJobsRunning, '3+');
  // A label value from the coordinator: only GitLab's bucket shapes, so it cannot make series without bound.
  assert.equal(info({ time_in_queue_seconds: 4, project_jobs_running_on_instance_runners_count: 'x'.repeat(40) })?.projectJobsRunning, undefined);
  assert.deepEqual(info({ time_in_queue_seconds: 4, queue_size: -1, queue_depth: 1.5 }), {
    waitedSeconds: 4,
    size: undefined,
    depth: undefined,
    projectJobsRunning: undefined,
  });
  assert.equal(info({}), undefined);
  assert.equal(info({ time_in_queue_seconds: '9' }), undefined);
  assert.equal(info({ time_in_queue_seconds: -3 }), undefined);
});

test('payload: features.tracing keeps the endpoints an exporter can take; the others are warned of without credentials or query', () => {
  const tracing = (endpoints: unknown[]): Job =>
    parseJobPayload(
      JSON.stringify(
        payload({ features: { tracing: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_parent_id: '00f067aa0ba902b7', otel_endpoints: endpoints } } }),
      ),
    ).job;
  const job = tracing([
    { url: 'http://exa mple:4318/v1/traces?api_key=s3cret' },
    { url: 'https://user:pw@bad host/v1/traces' },
    { url: 'grpc://collector:4317?token=s3cret' },
    { url: 'https://collector.example/v1/traces?api_key=s3cret', auth: { type: 'http_bearer_gcp_oidc' } },
    { url: 'https://collector.example:4318/v1/traces' },
  ]);
  assert.deepEqual(job.traceContext?.endpoints, ['https://collector.example:4318/v1/traces']);
  assert.deepEqual(job.warnings, [
    'job payload: features.tracing: endpoint "http://exa mple:4318/v1/traces": not a valid URL (expected one such as "https://collector:4318/v1/traces"); not sent there',
    'job payload: features.tracing: endpoint "https://bad host/v1/traces": not a valid URL (expected one such as "https://collector:4318/v1/traces"); not sent there',
    'job payload: features.tracing: endpoint "grpc://collector:4317": only http:// and https:// OTLP endpoints are supported; not sent there',
    'job payload: features.tracing: endpoint "https://collector.example/v1/traces": authentication "http_bearer_gcp_oidc" is not supported; not sent there',
  ]);
  assert.ok(!JSON.stringify(job.warnings).includes('s3cret'));
});
