// Corpus jobs from GitLab Runner's own pipeline (gitlab-org/gitlab-runner,
// read from its public mirror gitlabhq/gitlab-runner at d79f3e7b). Each
// job's YAML has the project's global `variables:` and `default:` of
// .gitlab/ci/_common.gitlab-ci.yml; `extends:`, `!reference` and rules are
// written out or left out (they decide whether and where a job runs, not what
// the runner does).
import type { CorpusJob, CorpusSource } from './corpus-job.ts';

const COMMIT = 'd79f3e7b89abceace75e2425bfe92b84ea059933';
const source = (path: string, job: string): CorpusSource => ({ repository: 'gitlabhq/gitlab-runner', path, commit: COMMIT, job });

/** _common.gitlab-ci.yml's global variables and default image; `featureFlags` false leaves FF_SCRIPT_SECTIONS out. */
function globals(scriptSections: boolean): string {
  return `
variables:
  RUBY_VERSION: "4.0.6"
  GO_VERSION: "1.26.5"
  GOLANGLINT_VERSION: "2.12.2"
  RUNNER_LINTERS_IMAGE: registry.gitlab.com/gitlab-org/ci-cd/runner-tools/runner-linters:\${GOLANGLINT_VERSION}-go\${GO_VERSION}
  RUNNER_IMAGES_REGISTRY: registry.gitlab.com/gitlab-org/ci-cd/runner-tools/base-images
  RUNNER_IMAGES_VERSION: "0.0.48"
  CI_IMAGE: "\${RUNNER_IMAGES_REGISTRY}/ci:\${RUNNER_IMAGES_VERSION}"
${scriptSections ? '  FF_SCRIPT_SECTIONS: "true"\n' : ''}  FF_USE_FASTZIP: "true"
  FF_TIMESTAMPS: "true"
  DOCKER_VERSION: 29.7.2
  LICENSE_MANAGEMENT_SETUP_CMD: echo "Skip setup. Dependency already vendored"
  DOCS_GITLAB_REPO_SUFFIX: "runner"
  DEPENDENCY_SCANNING_DISABLED: "true"
  TRANSFER_METER_FREQUENCY: "5s"
  CACHE_COMPRESSION_FORMAT: tarzstd
  GO111MODULE: "on"
  PACKAGES_ITERATION: "1"
  KUBERNETES_RUNNER_TAG: kubernetes_runner
  USE_PILOT_RUNNERS: "true"

default:
  image: $CI_IMAGE
`;
}

const NO_SECTIONS = 'The global FF_SCRIPT_SECTIONS: "true" of _common.gitlab-ci.yml is left out (this runner does not implement it: see "development S3").';
const ARTIFACTS = '`artifacts:` left out: GitLab Runner would upload them with gitlab-runner-helper, which this corpus cannot compare.';

const GPG_BLOCK = `    - |
      # checking GPG signing support
      if [ -f "$GPG_KEY_PATH" ]; then
        export GPG_KEY=$(cat \${GPG_KEY_PATH})
        export GPG_PASSPHRASE=$(cat \${GPG_PASSPHRASE_PATH})
      else
        echo -e "\\033[0;31m****** GPG signing disabled ******\\033[0m"
      fi`;

/** The GPG block's text as the job sends it (YAML literal block, trimmed by the runner). */
const GPG_COMMAND = [
  '# checking GPG signing support',
  'if [ -f "$GPG_KEY_PATH" ]; then',
  '  export GPG_KEY=$(cat ${GPG_KEY_PATH})',
  '  export GPG_PASSPHRASE=$(cat ${GPG_PASSPHRASE_PATH})',
  'else',
  '  echo -e "\\033[0;31m****** GPG signing disabled ******\\033[0m"',
  'fi',
].join('\n');

/** File-type CI/CD variables of the project, scoped to the S3 release environments; the passphrase is masked. */
const GPG_VARIABLES = [
  { key: 'GPG_KEY_PATH', value: '-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGYcorpusKeyForTheRunnerTests\n-----END PGP PRIVATE KEY BLOCK-----\n', file: true },
  { key: 'GPG_PASSPHRASE_PATH', value: 'Corpus-Passphrase-2026', file: true, masked: true },
];

export const GITLAB_RUNNER_JOBS: readonly CorpusJob[] = [
  {
    source: source('.gitlab/ci/qa.gitlab-ci.yml', 'check version definition'),
    name: 'check version definition',
    project: 'gitlab-runner',
    adaptations: [NO_SECTIONS],
    yaml: `${globals(false)}
check version definition:
  stage: qa
  needs: []
  script:
    - grep -E '^[0-9]+\\.[0-9]+\\.[0-9]+$' VERSION
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) => o.cmd("grep -E '^[0-9]+\\.[0-9]+\\.[0-9]+$' VERSION").out('19.4.0')).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/build.gitlab-ci.yml', 'prepare done (extends .stage_done of _common.gitlab-ci.yml)'),
    name: 'prepare done',
    project: 'gitlab-runner',
    adaptations: [NO_SECTIONS],
    yaml: `${globals(false)}
prepare done:
  stage: build
  image: alpine:latest
  variables:
    GIT_STRATEGY: none
  script:
    - exit 0
`,
    expect: (x) => {
      x.start().none().script((o) => o.cmd('exit 0')).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/build.gitlab-ci.yml', 'clone test repo'),
    name: 'clone test repo',
    project: 'gitlab-runner',
    adaptations: [
      NO_SECTIONS,
      ARTIFACTS,
      '`apk add git` is made a no-op (`: apk add git`): it would change the machine (git is installed).',
      'The clone URL https://gitlab.com/gitlab-org/ci-cd/gitlab-runner-pipeline-tests/gitlab-test points at the same project on the test coordinator, with the job token (it is private there).',
    ],
    yaml: `${globals(false)}
clone test repo:
  stage: build
  image: alpine:latest
  needs: []
  variables:
    GIT_STRATEGY: none
  script:
    - ': apk add git'
    - mkdir tmp
    - succeed=0
    - i=1
    - |
      while [ "$i" -le 3 ]; do
        rm -rf tmp/gitlab-test && git clone "\${CI_SERVER_PROTOCOL}://gitlab-ci-token:\${CI_JOB_TOKEN}@\${CI_SERVER_FQDN}/gitlab-org/ci-cd/gitlab-runner-pipeline-tests/gitlab-test.git" tmp/gitlab-test && succeed=1 && break
        i=$((i + 1))
        [ "$i" -le 3 ] && echo "retrying"
      done
    - '[ "$succeed" -eq 1 ]'
`,
    expect: (x) => {
      x.start().none().script((o) =>
        o.cmd(': apk add git').cmd('mkdir tmp').cmd('succeed=0').cmd('i=1')
          .cmd('while [ "$i" -le 3 ]; do\n...').err("Cloning into 'tmp/gitlab-test'...")
          .cmd('[ "$succeed" -eq 1 ]')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/postrelease.gitlab-ci.yml', 'package test variables (extends .trigger-downstream-pipeline-ref)'),
    name: 'package test variables',
    project: 'gitlab-runner',
    adaptations: [
      NO_SECTIONS,
      ARTIFACTS,
      '`apk add git bash` is made a no-op (`: apk add git bash`).',
      'GIT_DEPTH: 0 (a full clone, with tags: `git tag` needs them).',
      "`cat package_test_vars.env` and `env | grep '^UPSTREAM_' | sort` added at the end, to show what the artifact would hold and the variables the job inherits.",
    ],
    yaml: `${globals(false)}
package test variables:
  stage: postrelease
  image: alpine:latest
  variables:
    UPSTREAM_CI_COMMIT_REF: $CI_COMMIT_BRANCH
    UPSTREAM_CI_COMMIT_SHORT_SHA: $CI_COMMIT_SHORT_SHA
    UPSTREAM_RUNNER_IMAGE_REPO: $CI_REGISTRY_IMAGE
    UPSTREAM_RUNNER_HELPER_IMAGE_REPO: $CI_REGISTRY_IMAGE/gitlab-runner-helper
    GIT_DEPTH: 0
  before_script:
    - ': apk add git bash'
  script:
    - rm -f package_test_vars.env
    - echo "export RUNNER_FROM_VERSION=\\"$(git tag | sort -rV | sed "1q;d" | cut -c2-)\\"" >> package_test_vars.env
    - echo "export RUNNER_FROM_BRANCH=\\"gitlab-runner\\"" >> package_test_vars.env
    - echo "export RUNNER_TO_VERSION=\\"$(ci/version)\\"" >> package_test_vars.env
    - echo "export RUNNER_TO_BRANCH=\\"unstable\\"" >> package_test_vars.env
    - cat package_test_vars.env
    - env | grep '^UPSTREAM_' | sort
`,
    expect: (x, run) => {
      const short = x.facts.sha.slice(0, 8);
      const image = `${run.registry}/gitlab-org/gitlab-runner`;
      x.start().fetch({ fresh: false, removed: ['tmp/'] }).script((o) =>
        o.cmd(': apk add git bash').cmd('rm -f package_test_vars.env')
          .cmd('echo "export RUNNER_FROM_VERSION=\\"$(git tag | sort -rV | sed "1q;d" | cut -c2-)\\"" >> package_test_vars.env')
          .cmd('echo "export RUNNER_FROM_BRANCH=\\"gitlab-runner\\"" >> package_test_vars.env')
          .cmd('echo "export RUNNER_TO_VERSION=\\"$(ci/version)\\"" >> package_test_vars.env')
          .cmd('echo "export RUNNER_TO_BRANCH=\\"unstable\\"" >> package_test_vars.env')
          .cmd('cat package_test_vars.env')
          .out(
            'export RUNNER_FROM_VERSION="19.3.0"',
            'export RUNNER_FROM_BRANCH="gitlab-runner"',
            `export RUNNER_TO_VERSION="19.4.0~pre.1.g${short}"`,
            'export RUNNER_TO_BRANCH="unstable"',
          )
          .cmd("env | grep '^UPSTREAM_' | sort")
          .out(
            'UPSTREAM_CI_COMMIT_REF=main',
            `UPSTREAM_CI_COMMIT_SHORT_SHA=${short}`,
            `UPSTREAM_RUNNER_HELPER_IMAGE_REPO=${image}/gitlab-runner-helper`,
            `UPSTREAM_RUNNER_IMAGE_REPO=${image}`,
          )
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/qa.gitlab-ci.yml', 'shell:lint'),
    name: 'shell:lint',
    project: 'gitlab-runner',
    needs: ['make'],
    adaptations: [NO_SECTIONS, ARTIFACTS, "`make lint-shell-report` is the repository's Makefile stand-in (no linter2cc offline): it reports no findings."],
    yaml: `${globals(false)}
shell:lint:
  stage: qa
  image: $RUNNER_LINTERS_IMAGE
  needs: []
  variables:
    SHELLCHECK_REPORT_FILE: gl-shellcheck-report.json
  script:
    - make lint-shell-report
    - if [ "$(cat "\${SHELLCHECK_REPORT_FILE}")" != "[]" ]; then exit 1; fi
`,
    expect: (x) => {
      x.start().fetch({ fresh: false, removed: ['package_test_vars.env'] })
        .script((o) => o.cmd('make lint-shell-report').cmd('if [ "$(cat "${SHELLCHECK_REPORT_FILE}")" != "[]" ]; then exit 1; fi'))
        .cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/qa.gitlab-ci.yml', 'dockerfile:lint'),
    name: 'dockerfile:lint',
    project: 'gitlab-runner',
    needs: ['make'],
    adaptations: [
      NO_SECTIONS,
      ARTIFACTS,
      '`make lint-dockerfiles-report` is the Makefile stand-in: it reports one finding, so the job fails (it has allow_failure: true).',
    ],
    yaml: `${globals(false)}
dockerfile:lint:
  stage: qa
  image: $RUNNER_LINTERS_IMAGE
  needs: []
  allow_failure: true # to be disabled once all linter issues are resolved
  variables:
    HADOLINT_REPORT_FILE: gl-hadolint-report.json
  script:
    - make lint-dockerfiles-report
    - if [ "$(cat "\${HADOLINT_REPORT_FILE}")" != "[]" ]; then exit 1; fi
`,
    expect: (x) => {
      x.start().fetch({ fresh: false, removed: ['gl-shellcheck-report.json'] })
        .script((o) => o.cmd('make lint-dockerfiles-report').cmd('if [ "$(cat "${HADOLINT_REPORT_FILE}")" != "[]" ]; then exit 1; fi'))
        .cleanup().failed('exit status 1');
      return { state: 'failed', failureReason: 'script_failure', exitCode: 1 };
    },
  },
  {
    source: source('.gitlab/ci/release.gitlab-ci.yml', 'development S3 (extends .release_s3)'),
    name: 'development S3',
    project: 'gitlab-runner',
    needs: ['make'],
    adaptations: [
      "`make release_s3` is the repository's Makefile stand-in: it shows the passphrase it would sign with (a masked file variable).",
      'GPG_KEY_PATH and GPG_PASSPHRASE_PATH are file-type CI/CD variables of the project, scoped to the S3 release environments (the passphrase masked).',
    ],
    projectVariables: GPG_VARIABLES,
    yaml: `${globals(true)}
development S3:
  stage: release
  environment:
    name: development/s3/\${CI_COMMIT_REF_NAME}
    url: https://gitlab-runner-downloads.s3.amazonaws.com/\${CI_COMMIT_REF_NAME}/index.html
  before_script:
    - ./ci/touch_git
${GPG_BLOCK}
  script:
    - make release_s3
`,
    expect: (x) => {
      // FF_SCRIPT_SECTIONS: bash.go SectionStart/SectionEnd, `printf '%b\n'` (so `\033` in the command becomes ESC).
      const shown = GPG_COMMAND.replaceAll('\\033', '\x1b').split('\n');
      x.start().fetch({ fresh: false, removed: ['gl-hadolint-report.json'] }).script((o) => {
        o.cmd('./ci/touch_git');
        o.out(`section_start:{{EPOCH}}:section_script_step_1[hide_duration=true,collapsed=true]\r\x1b[0K\x1b[32;1m$ ${shown[0]}`, ...shown.slice(1, -1));
        o.out(`${shown[shown.length - 1]}\x1b[0;m`, 'section_end:{{EPOCH}}:section_script_step_1\r\x1b[0K');
        o.cmd('make release_s3').out(
          '# Releasing to S3',
          'Signing out/release/index.html with passphrase [MASKED]',
          'Uploading out/release to s3://gitlab-runner-downloads/main/',
        );
      }).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/release.gitlab-ci.yml', 'bleeding edge S3 (extends .release_s3)'),
    name: 'bleeding edge S3',
    project: 'gitlab-runner',
    needs: ['make'],
    adaptations: [NO_SECTIONS, '`make release_s3` and the GPG variables as in development S3.'],
    projectVariables: GPG_VARIABLES,
    yaml: `${globals(false)}
bleeding edge S3:
  stage: release
  environment:
    name: bleeding_edge/s3
    url: https://gitlab-runner-downloads.s3.amazonaws.com/\${CI_COMMIT_REF_NAME}/index.html
  before_script:
    - ./ci/touch_git
${GPG_BLOCK}
  script:
    - make release_s3
`,
    expect: (x) => {
      x.start().fetch({ fresh: false }).script((o) =>
        o.cmd('./ci/touch_git').cmd(GPG_COMMAND).cmd('make release_s3').out(
          '# Releasing to S3',
          'Signing out/release/index.html with passphrase [MASKED]',
          'Uploading out/release to s3://gitlab-runner-downloads/main/',
        )
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: source('.gitlab/ci/package.gitlab-ci.yml', 'package-deb (parallel:matrix PKGS: deb64; extends .packages)'),
    name: 'package-deb: [deb64]',
    yamlJob: 'package-deb',
    project: 'gitlab-runner',
    adaptations: [NO_SECTIONS, ARTIFACTS, "`mage` is the machine's offline stand-in; PKGS comes from `parallel: matrix` (GitLab sends it as a job variable)."],
    yaml: `${globals(false)}
package-deb:
  stage: package
  environment:
    name: package/$PKGS/$CI_COMMIT_REF_NAME
  variables:
    PKGS: deb64
  before_script:
${GPG_BLOCK}
  script:
    - mage package:prepare
    - mage package:verifyIterationVariable
    - mage package:$PKGS
`,
    expect: (x) => {
      x.start().fetch({ fresh: false }).script((o) =>
        o.cmd(GPG_COMMAND).out('\x1b[0;31m****** GPG signing disabled ******\x1b[0m')
          .cmd('mage package:prepare').out('[offline mage] package:prepare')
          .cmd('mage package:verifyIterationVariable').out('[offline mage] package:verifyIterationVariable')
          .cmd('mage package:$PKGS').out('[offline mage] package:deb64')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
];
