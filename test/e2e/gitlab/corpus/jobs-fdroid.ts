// Corpus jobs from the pipeline of F-Droid's fdroidserver (f-droid/fdroidserver
// at 00410335): its global variables (GIT_DEPTH: 1) come with every job.
import type { CorpusJob, CorpusSource } from './corpus-job.ts';

const FDROID = (job: string): CorpusSource => ({
  repository: 'f-droid/fdroidserver',
  path: '.gitlab-ci.yml',
  commit: '004103357bd85a68763ebb3ef06ed2d283f723d9',
  job,
});
const FDROID_GLOBALS = `
variables:
  pip: pip3 --timeout 100 --retries 10
  # speed up git checkout phase
  GIT_DEPTH: 1
`;
/** The package installs would change the machine (and need the network): they are made no-ops. */
const APT = 'Each `apt-get` line is made a no-op (`: apt-get ...`, one line): it would change the machine and needs the network; what it installs is there.';

export const FDROID_JOBS: readonly CorpusJob[] = [
  {
    source: FDROID('locales'),
    name: 'locales',
    project: 'fdroidserver',
    adaptations: [
      APT,
      'locale/de/LC_MESSAGES/fdroidserver.po has a broken translation, so `make -C locale compile` (real make and msgfmt) fails; ' +
      "`pybabel` is the machine's stand-in, which reports the same error.",
    ],
    needs: ['make', 'msgfmt'],
    yaml: `${FDROID_GLOBALS}
locales:
  stage: lint
  image: debian:bookworm-slim
  variables:
    LANG: C.UTF-8
  script:
    - ': apt-get update'
    - ': apt-get -y install --no-install-recommends gettext make python3-babel'
    - export EXITVALUE=0
    - function set_error() { export EXITVALUE=1; printf "\\x1b[31mERROR \`history|tail -2|head -1|cut -b 6-500\`\\x1b[0m\\n"; }
    - make -C locale compile || set_error
    - rm -f locale/*/*/*.mo
    - pybabel compile --domain=fdroidserver --directory locale 2>&1 | { grep -F "error:" && exit 1; } || true
    - exit $EXITVALUE
`,
    expect: (x) => {
      const { projectDir } = x.facts;
      x.start().fetch({ fresh: true }).script((o) =>
        o.cmd(': apt-get update').cmd(': apt-get -y install --no-install-recommends gettext make python3-babel').cmd('export EXITVALUE=0')
          .cmd('function set_error() { export EXITVALUE=1; printf "\\x1b[31mERROR `history|tail -2|head -1|cut -b 6-500`\\x1b[0m\\n"; }')
          .cmd('make -C locale compile || set_error')
          .out(
            `make: Entering directory '${projectDir}/locale'`,
            'for po in */LC_MESSAGES/fdroidserver.po; do msgfmt --check -o ${po%.po}.mo $po || exit 1; done',
          )
          .err(
            "de/LC_MESSAGES/fdroidserver.po:14: number of format specifications in 'msgid' and 'msgstr' does not match",
            'msgfmt: found 1 fatal error',
            'make: *** [Makefile:2: compile] Error 1',
          )
          .out(`make: Leaving directory '${projectDir}/locale'`)
          // `history` prints nothing in a shell that is not interactive.
          .out('\x1b[31mERROR \x1b[0m')
          .cmd('rm -f locale/*/*/*.mo')
          .cmd('pybabel compile --domain=fdroidserver --directory locale 2>&1 | { grep -F "error:" && exit 1; } || true')
          .out('error: locale/de/LC_MESSAGES/fdroidserver.po:13: positional format placeholders are unbalanced')
          .cmd('exit $EXITVALUE')
      ).cleanup().failed('exit status 1');
      return { state: 'failed', failureReason: 'script_failure', exitCode: 1 };
    },
  },
  {
    source: FDROID('PUBLISH'),
    name: 'PUBLISH',
    project: 'fdroidserver',
    adaptations: [
      APT,
      'The `python3 -m unittest ...` line is left out (its timing line changes from run to run), and so are the `rsync` lines (they publish to a server).',
      "`fdroid` is the repository's script, here an offline stand-in that prints what it would do.",
    ],
    yaml: `${FDROID_GLOBALS}
PUBLISH:
  image: debian:bullseye-backports
  script:
    - ': apt-get update'
    - ': apt-get -qy upgrade'
    - ': apt-get -qy install --no-install-recommends -t bullseye-backports androguard apksigner curl default-jdk-headless git gpg gpg-agent python3-asn1crypto python3-defusedxml python3-git python3-ruamel.yaml python3-yaml rsync'

    - cd tests
    - mkdir archive
    - mkdir unsigned
    - cp urzip-release-unsigned.apk unsigned/info.guardianproject.urzip_100.apk
    - grep '^key.*pass' config.yml | sed 's,\\x3a ,=,' > $CI_PROJECT_DIR/variables
    - sed -Ei 's,^(key.*pass|keystore)\\x3a.*,\\1\\x3a {env\\x3a \\1},' config.yml
    - printf '\\ngpghome\\x3a {env\\x3a gpghome}\\n' >> config.yml
    - |
      tee --append $CI_PROJECT_DIR/variables <<EOF
          gpghome=$CI_PROJECT_DIR/tests/gnupghome
          keystore=$CI_PROJECT_DIR/tests/keystore.jks
          serverwebroot=/tmp
          export gpghome keypass keystorepass keystore serverwebroot
      EOF
    - source $CI_PROJECT_DIR/variables
    # silence warnings
    - chmod 0600 config.yml config/*.yml config/*/*.yml
    - chmod 0700 $gpghome

    - export PATH=$CI_PROJECT_DIR:$PATH

    # run signpkg.sh
    - fdroid publish --verbose
    - fdroid gpgsign --verbose

    # run signindex.sh
    - fdroid gpgsign --verbose
    - fdroid signindex --verbose
`,
    expect: (x) => {
      const { projectDir } = x.facts;
      const said = (what: string): string => `INFO: fdroid ${what} --verbose (offline stand-in): keystore=${projectDir}/tests/keystore.jks serverwebroot=/tmp`;
      x.start().fetch({ fresh: false }).script((o) =>
        o.cmd(': apt-get update').cmd(': apt-get -qy upgrade')
          .cmd(
            ': apt-get -qy install --no-install-recommends -t bullseye-backports androguard apksigner curl default-jdk-headless git gpg gpg-agent ' +
              'python3-asn1crypto python3-defusedxml python3-git python3-ruamel.yaml python3-yaml rsync',
          )
          .cmd('cd tests').cmd('mkdir archive').cmd('mkdir unsigned').cmd('cp urzip-release-unsigned.apk unsigned/info.guardianproject.urzip_100.apk')
          .cmd("grep '^key.*pass' config.yml | sed 's,\\x3a ,=,' > $CI_PROJECT_DIR/variables")
          .cmd("sed -Ei 's,^(key.*pass|keystore)\\x3a.*,\\1\\x3a {env\\x3a \\1},' config.yml")
          .cmd("printf '\\ngpghome\\x3a {env\\x3a gpghome}\\n' >> config.yml")
          .cmd('tee --append $CI_PROJECT_DIR/variables <<EOF\nEOF')
          .out(
            `    gpghome=${projectDir}/tests/gnupghome`,
            `    keystore=${projectDir}/tests/keystore.jks`,
            '    serverwebroot=/tmp',
            '    export gpghome keypass keystorepass keystore serverwebroot',
          )
          .cmd('source $CI_PROJECT_DIR/variables')
          .cmd('chmod 0600 config.yml config/*.yml config/*/*.yml').cmd('chmod 0700 $gpghome')
          .cmd('export PATH=$CI_PROJECT_DIR:$PATH')
          .cmd('fdroid publish --verbose').out(said('publish'))
          .cmd('fdroid gpgsign --verbose').out(said('gpgsign'))
          .cmd('fdroid gpgsign --verbose').out(said('gpgsign'))
          .cmd('fdroid signindex --verbose').out(said('signindex'))
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: FDROID('docker'),
    name: 'docker',
    project: 'fdroidserver',
    adaptations: ['`docker` is the machine\'s offline stand-in (it prints its arguments; `login` reads the password and says "Login Succeeded").'],
    yaml: `${FDROID_GLOBALS}
docker:
  image: docker:dind
  services:
    - docker:dind
  variables:
    RELEASE_IMAGE: $CI_REGISTRY_IMAGE:buildserver
  script:
    # git ref names can contain many chars that are not allowed in docker tags
    - export TEST_IMAGE=$CI_REGISTRY_IMAGE:$(printf $CI_COMMIT_REF_NAME | sed 's,[^a-zA-Z0-9_.-],_,g')
    - cd buildserver
    - docker build -t $TEST_IMAGE --build-arg GIT_REV_PARSE_HEAD=$(git rev-parse HEAD) .
    - docker tag $TEST_IMAGE $RELEASE_IMAGE
    - docker tag $TEST_IMAGE \${RELEASE_IMAGE}-bookworm
    - echo $CI_JOB_TOKEN | docker login -u gitlab-ci-token --password-stdin registry.gitlab.com
    # This avoids filling up gitlab.com free tier accounts with unused docker images.
    - if test -z "$FDROID_PUSH_DOCKER_IMAGE"; then
          echo "Skipping docker push to save quota on your gitlab namespace.";
          echo "If you want to enable the push, set FDROID_PUSH_DOCKER_IMAGE in";
          echo "https://gitlab.com/$CI_PROJECT_NAMESPACE/fdroidserver/-/settings/ci_cd#js-cicd-variables-settings";
          exit 0;
      fi
    - docker push $RELEASE_IMAGE
    - docker push $RELEASE_IMAGE-bookworm
`,
    expect: (x, run) => {
      const image = `${run.registry}/fdroid/fdroidserver`;
      x.start().fetch({ fresh: false, removed: ['tests/archive/', 'tests/unsigned/', 'variables'] }).script((o) =>
        o.cmd("export TEST_IMAGE=$CI_REGISTRY_IMAGE:$(printf $CI_COMMIT_REF_NAME | sed 's,[^a-zA-Z0-9_.-],_,g')")
          .cmd('cd buildserver')
          .cmd('docker build -t $TEST_IMAGE --build-arg GIT_REV_PARSE_HEAD=$(git rev-parse HEAD) .')
          .out(`[offline docker] build -t ${image}:main --build-arg GIT_REV_PARSE_HEAD=${x.facts.sha} .`)
          .cmd('docker tag $TEST_IMAGE $RELEASE_IMAGE').out(`[offline docker] tag ${image}:main ${image}:buildserver`)
          .cmd('docker tag $TEST_IMAGE ${RELEASE_IMAGE}-bookworm').out(`[offline docker] tag ${image}:main ${image}:buildserver-bookworm`)
          .cmd('echo $CI_JOB_TOKEN | docker login -u gitlab-ci-token --password-stdin registry.gitlab.com').out('Login Succeeded')
          .cmd(
            'if test -z "$FDROID_PUSH_DOCKER_IMAGE"; then echo "Skipping docker push to save quota on your gitlab namespace."; ' +
              'echo "If you want to enable the push, set FDROID_PUSH_DOCKER_IMAGE in"; ' +
              'echo "https://gitlab.com/$CI_PROJECT_NAMESPACE/fdroidserver/-/settings/ci_cd#js-cicd-variables-settings"; exit 0; fi',
          )
          .out(
            'Skipping docker push to save quota on your gitlab namespace.',
            'If you want to enable the push, set FDROID_PUSH_DOCKER_IMAGE in',
            'https://gitlab.com/fdroid/fdroidserver/-/settings/ci_cd#js-cicd-variables-settings',
          )
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
  {
    source: FDROID('ubuntu_jammy_pip (extends .apt-template)'),
    name: 'ubuntu_jammy_pip',
    project: 'fdroidserver',
    adaptations: [
      "The .apt-template before_script is left out: it rewrites the machine's apt configuration in /etc.",
      'Of the script, the lines that build the sdist, install the Android SDK and run the test suite are left out; the apt-get line is a no-op, ' +
      "and `fdroid` is the machine's stand-in for the pip-installed command.",
    ],
    yaml: `${FDROID_GLOBALS}
ubuntu_jammy_pip:
  image: ubuntu:jammy
  variables:
    DEBIAN_FRONTEND: noninteractive
    LANG: C.UTF-8
  script:
    - ': apt-get install git default-jdk-headless python3-pip python3-venv rsync'
    - export ANDROID_HOME=/opt/android-sdk
    - export PATH=$PATH:$ANDROID_HOME/build-tools/35.0.0

    # check localization was properly installed
    - LANGUAGE='de' fdroid --help | grep 'Gültige Befehle sind'
`,
    expect: (x) => {
      x.start().fetch({ fresh: false }).script((o) =>
        o.cmd(': apt-get install git default-jdk-headless python3-pip python3-venv rsync')
          .cmd('export ANDROID_HOME=/opt/android-sdk').cmd('export PATH=$PATH:$ANDROID_HOME/build-tools/35.0.0')
          .cmd("LANGUAGE='de' fdroid --help | grep 'Gültige Befehle sind'").out('Gültige Befehle sind:')
      ).cleanup().succeeded();
      return { state: 'success' };
    },
  },
];
