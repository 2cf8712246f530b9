// Corpus jobs from GitLab's own CI/CD templates (lib/gitlab/ci/templates in
// gitlab-org/gitlab, read from its public mirror gitlabhq/gitlabhq), which
// projects copy into their .gitlab-ci.yml, and from GitLab's documentation.
import type { CorpusJob } from './corpus-job.ts';

const GITLAB = 'gitlabhq/gitlabhq';

export const TEMPLATE_JOBS: readonly CorpusJob[] = [
  {
    source: { repository: GITLAB, path: 'lib/gitlab/ci/templates/Bash.gitlab-ci.yml', commit: '035cd5ee5e42fda4a896ed43147ebf455fa2f5ba', job: 'test1' },
    name: 'test1',
    project: 'bash-template',
    adaptations: [],
    yaml: `
image: busybox:latest

before_script:
  - echo "Before script section"
  - echo "For example you might run an update here or install a build dependency"
  - echo "Or perhaps you might print out some debugging details"

after_script:
  - echo "After script section"
  - echo "For example you might do some cleanup here"

test1:
  stage: test
  script:
    - echo "Do a test here"
    - echo "For example run a test suite"
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) =>
        o.cmd('echo "Before script section"').out('Before script section')
          .cmd('echo "For example you might run an update here or install a build dependency"')
          .out('For example you might run an update here or install a build dependency')
          .cmd('echo "Or perhaps you might print out some debugging details"').out('Or perhaps you might print out some debugging details')
          .cmd('echo "Do a test here"').out('Do a test here')
          .cmd('echo "For example run a test suite"').out('For example run a test suite')
      ).after((o) =>
        o.cmd('echo "After script section"').out('After script section')
          .cmd('echo "For example you might do some cleanup here"').out('For example you might do some cleanup here')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: {
      repository: GITLAB,
      path: 'lib/gitlab/ci/templates/Getting-Started.gitlab-ci.yml',
      commit: '035cd5ee5e42fda4a896ed43147ebf455fa2f5ba',
      job: 'build-job',
    },
    name: 'build-job',
    project: 'getting-started',
    adaptations: ['FF_TIMESTAMPS: "false" added to the job, to compare a log without line prefixes byte for byte.'],
    projectVariables: [{ key: 'RUNNER_SCRIPT_TIMEOUT', value: '3s' }],
    yaml: `
build-job:
  stage: build
  variables:
    FF_TIMESTAMPS: "false"
  script:
    - echo "Compiling the code..."
    - echo "Compile complete."
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) =>
        o.cmd('echo "Compiling the code..."').out('Compiling the code...')
          .cmd('echo "Compile complete."').out('Compile complete.')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: {
      repository: GITLAB,
      path: 'lib/gitlab/ci/templates/Getting-Started.gitlab-ci.yml',
      commit: '035cd5ee5e42fda4a896ed43147ebf455fa2f5ba',
      job: 'unit-test-job',
    },
    name: 'unit-test-job',
    project: 'getting-started',
    adaptations: ['The project sets RUNNER_SCRIPT_TIMEOUT=3s (a CI/CD variable), so `sleep 60` runs into the script timeout instead of taking a minute.'],
    projectVariables: [{ key: 'RUNNER_SCRIPT_TIMEOUT', value: '3s' }],
    yaml: `
unit-test-job:
  stage: test
  script:
    - echo "Running unit tests... This will take about 60 seconds."
    - sleep 60
    - echo "Code coverage is 90%"
`,
    expect: (x) => {
      x.start().fetch({ fresh: false }).script((o) =>
        o.cmd('echo "Running unit tests... This will take about 60 seconds."').out('Running unit tests... This will take about 60 seconds.')
          // The shell executor sends SIGTERM to the stage's process group; bash reports the killed sleep.
          .cmd('sleep 60').err('Terminated')
      ).scriptTimedOut().cleanup().failed('script timeout: context deadline exceeded');
      return { state: 'failed', failureReason: 'job_execution_timeout' };
    },
  },
  {
    source: { repository: GITLAB, path: 'lib/gitlab/ci/templates/Pages/HTML.gitlab-ci.yml', commit: '1ccebc7b3f091ef585dc87a91847aa35f7ae2130', job: 'pages' },
    name: 'pages',
    project: 'plain-html',
    adaptations: ['`artifacts:` left out: GitLab Runner would upload them with gitlab-runner-helper, which this corpus cannot compare.'],
    yaml: `
pages:
  stage: deploy
  environment: production
  script:
    - mkdir .public
    - cp -r ./* .public
    - rm -rf public
    - mv .public public
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) => o.cmd('mkdir .public').cmd('cp -r ./* .public').cmd('rm -rf public').cmd('mv .public public'))
        .cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: { repository: GITLAB, path: 'lib/gitlab/ci/templates/Pages/HTML.gitlab-ci.yml', commit: '1ccebc7b3f091ef585dc87a91847aa35f7ae2130', job: 'pages' },
    name: 'pages',
    project: 'plain-html',
    adaptations: ['The same job retried: get_sources fetches into the kept checkout, and `git clean` removes what the first run made.'],
    yaml: `
pages:
  stage: deploy
  environment: production
  script:
    - mkdir .public
    - cp -r ./* .public
    - rm -rf public
    - mv .public public
`,
    expect: (x) => {
      x.start().fetch({ fresh: false, removed: ['public/'] })
        .script((o) => o.cmd('mkdir .public').cmd('cp -r ./* .public').cmd('rm -rf public').cmd('mv .public public'))
        .cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: { repository: GITLAB, path: 'lib/gitlab/ci/templates/C++.gitlab-ci.yml', commit: '51713627f61b5897c0697f7574d8c3d7c3e93c41', job: 'build' },
    name: 'build',
    project: 'cpp',
    needs: ['g++'],
    adaptations: ['`artifacts:` left out (see pages).'],
    yaml: `
image: gcc

build:
  stage: build
  script:
    - g++ helloworld.cpp -o mybinary
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) => o.cmd('g++ helloworld.cpp -o mybinary')).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: { repository: GITLAB, path: 'lib/gitlab/ci/templates/C++.gitlab-ci.yml', commit: '51713627f61b5897c0697f7574d8c3d7c3e93c41', job: 'test' },
    name: 'test',
    project: 'cpp',
    needs: ['g++'],
    adaptations: [
      "runmytests.sh is the project's (the template leaves it to the project): it builds the program if the artifact is missing, and prints its verdict without a final newline.",
    ],
    yaml: `
image: gcc

test:
  stage: test
  script:
    - ./runmytests.sh
`,
    expect: (x) => {
      x.start().fetch({ fresh: false, removed: ['mybinary'] }).script((o) => o.cmd('./runmytests.sh').outUnterminated('helloworld: ok'))
        .cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: {
      repository: GITLAB,
      path: 'doc/ci/variables/job_scripts.md',
      commit: '1235739576a25e8f566e94330dedfdafe3c6622d',
      job: 'build-job (GitLab documentation example)',
    },
    name: 'build-job',
    project: 'gitlab-env',
    adaptations: [
      'Documentation example, not a project file. `artifacts: paths: [some-file-$ARCH]` became `after_script: ls some-file-$ARCH`: the variable reaches the next stage through $GITLAB_ENV.',
    ],
    yaml: `
build-job:
  stage: build
  script:
    - echo "ARCH=$(arch)" >> $GITLAB_ENV
    - touch some-file-$(arch)
  after_script:
    - ls some-file-$ARCH
`,
    expect: (x, run) => {
      x.start().fetch({ fresh: true }).script((o) => o.cmd('echo "ARCH=$(arch)" >> $GITLAB_ENV').cmd('touch some-file-$(arch)'))
        .after((o) => o.cmd('ls some-file-$ARCH').out(`some-file-${run.arch}`)).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: {
      repository: GITLAB,
      path: 'doc/ci/variables/job_scripts.md',
      commit: '1235739576a25e8f566e94330dedfdafe3c6622d',
      job: 'job1 (GitLab documentation example)',
    },
    name: 'job1',
    project: 'gitlab-env',
    adaptations: ['Documentation example, not a project file.'],
    yaml: `
job1:
  variables:
    FOLDERS: src test docs
  script:
    - |
      for FOLDER in $FOLDERS
        do
          echo "The path is root/\${FOLDER}"
        done
`,
    expect: (x, run) => {
      x.start().fetch({ fresh: false, removed: [`some-file-${run.arch}`] }).script((o) =>
        o.cmd('for FOLDER in $FOLDERS\n  do\n    echo "The path is root/${FOLDER}"\n  done')
          .out('The path is root/src', 'The path is root/test', 'The path is root/docs')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: { repository: GITLAB, path: 'lib/gitlab/ci/templates/Pages/Hugo.gitlab-ci.yml', commit: '135059c00cbc56fd7b7fdc2a6a87c7a94fe64649', job: 'pages' },
    name: 'pages',
    project: 'hugo',
    adaptations: [
      '`hugo` is an offline stand-in on the machine (machine.ts); `artifacts:` left out.',
      'The theme submodule has a relative URL (../gohugo-theme-ananke.git) to a project on the same coordinator, as GitLab advises for CI.',
    ],
    yaml: `
image: "\${CI_TEMPLATE_REGISTRY_HOST}/pages/hugo:latest"

variables:
  GIT_SUBMODULE_STRATEGY: recursive

pages:
  script:
    - hugo
  environment: production
`,
    expect: (x, run) => {
      const { projectDir } = x.facts;
      x.start().fetch({
        fresh: true,
        submodules: (o) => {
          o.notice('Updating/initializing submodules recursively with git depth set to 20...')
            .err(`Submodule 'themes/ananke' (${run.serverUrl}/pages/gohugo-theme-ananke.git) registered for path 'themes/ananke'`)
            .out("Synchronizing submodule url for 'themes/ananke'")
            .err(`Cloning into '${projectDir}/themes/ananke'...`)
            .out(`Submodule path 'themes/ananke': checked out '${run.shas['hugo-theme']}'`)
            .notice('Updated submodules')
            .out("Synchronizing submodule url for 'themes/ananke'")
            .out("Entering 'themes/ananke'")
            .notice('Configuring submodules to use parent git credentials...')
            .out("Entering 'themes/ananke'");
          if (x.facts.machine.gitLfs) o.notice('Pulling LFS files...').out("Entering 'themes/ananke'");
        },
      }).script((o) => o.cmd('hugo').out('Start building sites … ', 'hugo v0.125.4 (offline stand-in) linux/amd64', '', 'Total in 3 ms'))
        .cleanup().succeeded();
      return { state: 'success' };
    },
  },
];
