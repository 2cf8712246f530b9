// Corpus jobs from the pipelines of GLib, QEMU (its custom runners use the
// shell executor) and Git.
import type { CorpusJob } from './corpus-job.ts';

export const PROJECT_JOBS: readonly CorpusJob[] = [
  {
    source: { repository: 'GNOME/glib', path: '.gitlab-ci.yml', commit: '000cf6332f60b165e2e7a8c5a6d073fe0b479e8f', job: 'coverage' },
    name: 'coverage',
    project: 'glib',
    adaptations: ['.gitlab-ci/coverage-docker.sh is an offline stand-in for the lcov run; `artifacts:` left out.'],
    yaml: `
variables:
  FEDORA_IMAGE: registry.gitlab.gnome.org/gnome/glib/fedora:v6
  MESON_TEST_TIMEOUT_MULTIPLIER: 2
  G_MESSAGES_DEBUG: all
  MESON_COMMON_OPTIONS: "--buildtype debug --fatal-meson-warnings"

coverage:
  image: $FEDORA_IMAGE
  stage: coverage
  script:
    - bash -x ./.gitlab-ci/coverage-docker.sh
  coverage: '/^\\s+lines\\.+:\\s+([\\d.]+\\%)\\s+/'
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) =>
        o.cmd('bash -x ./.gitlab-ci/coverage-docker.sh')
          .err('+ set -e', '+ mkdir -p _coverage', "+ echo 'Overall coverage rate:'").out('Overall coverage rate:')
          .err("+ echo '  lines......: 82.3% (64019 of 77807 lines)'").out('  lines......: 82.3% (64019 of 77807 lines)')
          .err("+ echo '  functions..: 86.9% (5966 of 6866 functions)'").out('  functions..: 86.9% (5966 of 6866 functions)')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: { repository: 'GNOME/glib', path: '.gitlab-ci.yml', commit: '000cf6332f60b165e2e7a8c5a6d073fe0b479e8f', job: 'pages' },
    name: 'pages',
    project: 'glib',
    adaptations: [
      'FF_TIMESTAMPS: "false" added, to compare a failing job\'s log without line prefixes byte for byte.',
      "The coverage job's artifact (_coverage/) is not passed on (no artifacts here), so `mv` fails, as it does in GLib when that artifact is missing.",
    ],
    yaml: `
pages:
  stage: deploy
  variables:
    FF_TIMESTAMPS: "false"
  script:
    - mv _coverage/ public/
`,
    expect: (x) => {
      x.start().fetch({ fresh: false, removed: ['_coverage/'] })
        .script((o) => o.cmd('mv _coverage/ public/').err("mv: cannot stat '_coverage/': No such file or directory"))
        .cleanup().failed('exit status 1');
      return { state: 'failed', failureReason: 'script_failure', exitCode: 1 };
    },
  },
  {
    source: {
      repository: 'qemu/qemu',
      path: '.gitlab-ci.d/custom-runners/ubuntu-22.04-s390x.yml (GIT_STRATEGY from .gitlab-ci.d/custom-runners.yml)',
      commit: '027839fe03ce91a7b9a695f40570eed885151e5b',
      job: 'ubuntu-22.04-s390x-tci',
    },
    name: 'ubuntu-22.04-s390x-tci',
    project: 'qemu',
    adaptations: ["configure is an offline stand-in that fails as on a machine without QEMU's build dependencies."],
    yaml: `
variables:
  GIT_STRATEGY: clone

ubuntu-22.04-s390x-tci:
 needs: []
 stage: build
 tags:
 - ubuntu_22.04
 - s390x
 script:
 - mkdir build
 - cd build
 - ../configure --disable-libssh --enable-tcg-interpreter
   || { cat config.log meson-logs/meson-log.txt; exit 1; }
 - make --output-sync -j\`nproc\`
`,
    expect: (x) => {
      x.start().clone().script((o) =>
        o.cmd('mkdir build').cmd('cd build')
          .cmd('../configure --disable-libssh --enable-tcg-interpreter || { cat config.log meson-logs/meson-log.txt; exit 1; }')
          .out("Using './build' as the directory for build output").err('', 'ERROR: glib-2.66 gthread-2.0 is required to compile QEMU')
          .out('# QEMU configure log', "# Configured with: '../configure' --disable-libssh --enable-tcg-interpreter", 'glib-2.0 >= 2.66: not found')
          .err('cat: meson-logs/meson-log.txt: No such file or directory')
      ).cleanup().failed('exit status 1');
      return { state: 'failed', failureReason: 'script_failure', exitCode: 1 };
    },
  },
  {
    source: {
      repository: 'qemu/qemu',
      path:
        '.gitlab-ci.d/buildtest.yml (at 01ef1c0dc83cc40522b45f289cd5ed669b0f3da4) extending .native_build_job_template of .gitlab-ci.d/buildtest-template.yml',
      commit: '0776aed56afacfbb7a3e4d03e3331d098adc927c',
      job: 'build-system-debian',
    },
    name: 'build-system-debian',
    project: 'qemu',
    adaptations: [
      'GIT_STRATEGY: clone is the pipeline-wide variable of .gitlab-ci.d/custom-runners.yml.',
      "`cat /packages.txt` (the container image's package list) and `du -sh .git` (a size that changes with the repository) are left out; " +
      "`ccache` is the machine's offline stand-in, configure the repository's (it fails as on a machine without QEMU's build dependencies), " +
      "scripts/ci/gitlab-ci-section prints the same section markers as QEMU's. `artifacts:` and `cache:` left out.",
    ],
    yaml: `
variables:
  GIT_STRATEGY: clone

build-system-debian:
  stage: build
  image: $CI_REGISTRY_IMAGE/qemu/$IMAGE:$QEMU_CI_CONTAINER_TAG
  needs:
    job: amd64-debian-container
  variables:
    IMAGE: debian
    CONFIGURE_ARGS: --with-coroutine=sigaltstack
    TARGETS: arm-softmmu i386-softmmu riscv64-softmmu sh4eb-softmmu
      sparc-softmmu xtensa-softmmu
    MAKE_CHECK_ARGS: check-build
  before_script:
    - source scripts/ci/gitlab-ci-section
    - section_start setup "Pre-script setup"
    - JOBS=$(expr $(nproc) + 1)
    - section_end setup
  script:
    - export CCACHE_BASEDIR="$(pwd)"
    - export CCACHE_DIR="$CCACHE_BASEDIR/ccache"
    - export CCACHE_MAXSIZE="500M"
    - export PATH="$CCACHE_WRAPPERSDIR:$PATH"
    - mkdir build
    - cd build
    - ccache --zero-stats
    - section_start configure "Running configure"
    - ../configure --enable-werror --disable-docs --enable-fdt=system
          --disable-debug-info
          \${TARGETS:+--target-list="$TARGETS"}
          $CONFIGURE_ARGS ||
      { cat config.log meson-logs/meson-log.txt && exit 1; }
    - if test -n "$LD_JOBS";
      then
        pyvenv/bin/meson configure . -Dbackend_max_links="$LD_JOBS" ;
      fi || exit 1;
    - section_end configure
`,
    expect: (x) => {
      const targets = 'arm-softmmu i386-softmmu riscv64-softmmu sh4eb-softmmu sparc-softmmu xtensa-softmmu';
      x.start().clone().script((o) =>
        o.cmd('source scripts/ci/gitlab-ci-section')
          .cmd('section_start setup "Pre-script setup"').out('section_start:{{EPOCH}}:setup\r\x1b[0KPre-script setup')
          .cmd('JOBS=$(expr $(nproc) + 1)')
          .cmd('section_end setup').out('section_end:{{EPOCH}}:setup\r\x1b[0K')
          .cmd('export CCACHE_BASEDIR="$(pwd)"').cmd('export CCACHE_DIR="$CCACHE_BASEDIR/ccache"').cmd('export CCACHE_MAXSIZE="500M"')
          .cmd('export PATH="$CCACHE_WRAPPERSDIR:$PATH"').cmd('mkdir build').cmd('cd build')
          .cmd('ccache --zero-stats').out('Statistics zeroed')
          .cmd('section_start configure "Running configure"').out('section_start:{{EPOCH}}:configure\r\x1b[0KRunning configure')
          .cmd(
            '../configure --enable-werror --disable-docs --enable-fdt=system --disable-debug-info ${TARGETS:+--target-list="$TARGETS"} $CONFIGURE_ARGS || ' +
              '{ cat config.log meson-logs/meson-log.txt && exit 1; }',
          )
          .out("Using './build' as the directory for build output").err('', 'ERROR: glib-2.66 gthread-2.0 is required to compile QEMU')
          .out(
            '# QEMU configure log',
            `# Configured with: '../configure' --enable-werror --disable-docs --enable-fdt=system --disable-debug-info --target-list=${targets} --with-coroutine=sigaltstack`,
            'glib-2.0 >= 2.66: not found',
          )
          .err('cat: meson-logs/meson-log.txt: No such file or directory')
          // `cat ... && exit 1` fails at `cat`, inside a group whose failure bash's errexit ignores: the job goes on.
          .cmd('if test -n "$LD_JOBS"; then pyvenv/bin/meson configure . -Dbackend_max_links="$LD_JOBS" ; fi || exit 1;')
          .cmd('section_end configure').out('section_end:{{EPOCH}}:configure\r\x1b[0K')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: { repository: 'git/git', path: '.gitlab-ci.yml', commit: '04c29bdea04e5af5193fd386b62a48c320351f19', job: 'test:osx (parallel:matrix osx-clang)' },
    name: 'test:osx: [osx-clang, macos-13-xcode-14, clang]',
    yamlJob: 'test:osx',
    project: 'git',
    adaptations: [
      'The before_script line that makes a macOS RAM disk (`sudo diskutil apfs create ...`) is left out.',
      'The ci/ scripts are offline stand-ins: one test fails. The matrix variables are sent as job variables, as GitLab does; `artifacts:` left out.',
    ],
    yaml: `
test:osx:
  image: $image
  stage: test
  needs: [ ]
  tags:
    - saas-macos-medium-m1
  variables:
    TEST_OUTPUT_DIRECTORY: "/Volumes/RAMDisk"
    jobname: osx-clang
    image: macos-13-xcode-14
    CC: clang
  before_script:
    - ./ci/install-dependencies.sh
  script:
    - ./ci/run-build-and-tests.sh
  after_script:
    - |
      if test "$CI_JOB_STATUS" != 'success'
      then
        ./ci/print-test-failures.sh
        mv "$TEST_OUTPUT_DIRECTORY"/failed-test-artifacts t/
      fi
`,
    expect: (x) => {
      x.start().fetch({ fresh: true }).script((o) =>
        o.cmd('./ci/install-dependencies.sh').out('Dependencies for osx-clang are installed (offline stand-in).')
          .cmd('./ci/run-build-and-tests.sh').out('*** t0001-init.sh ***', 'ok 1 - plain', 'not ok 2 - plain nested in bare', '# failed 1 among 2 test(s)')
      ).after((o) =>
        o.cmd('if test "$CI_JOB_STATUS" != \'success\'\nthen')
          .out('------------------------------------------------------------------------', 't0001-init.sh: not ok 2 - plain nested in bare')
          .err("mv: cannot stat '/Volumes/RAMDisk/failed-test-artifacts': No such file or directory")
      ).afterScriptFailed('exit status 1').cleanup().failed('exit status 1');
      return { state: 'failed', failureReason: 'script_failure', exitCode: 1 };
    },
  },
];
