// The files of each corpus project's repository (see repositories.ts). Only
// what the corpus jobs read; scripts and Makefile targets the real projects
// have are replaced by short stand-ins that print a fixed text, marked
// "offline stand-in".

export type ProjectName =
  | 'bash-template'
  | 'getting-started'
  | 'plain-html'
  | 'cpp'
  | 'hugo'
  | 'hugo-theme'
  | 'gitlab-env'
  | 'gitlab-runner'
  | 'gitlab-test'
  | 'fdroidserver'
  | 'glib'
  | 'qemu'
  | 'git';

/** A file of a repository: its text, and whether it is executable. */
export interface RepoFile {
  readonly text: string;
  readonly executable?: boolean;
}

/** One commit of a repository's history: files written (on top of the previous commit's), and an optional tag. */
export interface RepoCommit {
  readonly message: string;
  readonly files: Readonly<Record<string, string | RepoFile>>;
  readonly tag?: string;
  /** Submodules recorded by this commit: path, URL as .gitmodules has it, and the project whose HEAD it points at. */
  readonly submodules?: readonly { readonly path: string; readonly url: string; readonly project: ProjectName }[];
}

const exec = (text: string): { text: string; executable: true } => ({ text, executable: true });

const README = (name: string): string => `# ${name}\n\nA corpus project of the runner's tests.\n`;

export const FILES: Readonly<Record<ProjectName, readonly RepoCommit[]>> = {
  'bash-template': [{ message: 'Initial commit', files: { 'README.md': README('bash-template') } }],
  'getting-started': [{ message: 'Initial commit', files: { 'README.md': README('getting-started') } }],
  'plain-html': [{
    message: 'Add the site',
    files: {
      'README.md': README('plain-html'),
      'index.html':
        '<!DOCTYPE html>\n<html><head><title>Plain HTML site</title><link rel="stylesheet" href="style.css"></head>\n<body><h1>Hello World!</h1></body></html>\n',
      'style.css': 'body { font-family: sans-serif; }\n',
    },
  }],
  'cpp': [{
    message: 'Hello world',
    files: {
      'helloworld.cpp': '#include <iostream>\n\nint main() {\n  std::cout << "Hello, World!" << std::endl;\n  return 0;\n}\n',
      // The template leaves the tests to the project: this one prints its verdict without a final newline.
      'runmytests.sh': exec(
        "#!/bin/sh\n# The project's tests: the program must greet the world.\n" +
          '[ -x ./mybinary ] || g++ helloworld.cpp -o mybinary\n' +
          "printf 'helloworld: '\n./mybinary | grep -q 'Hello, World!' && printf 'ok'\n",
      ),
    },
  }],
  'hugo-theme': [{
    message: 'Ananke theme',
    files: {
      'theme.toml': 'name = "Ananke Gohugo Theme"\nlicense = "MIT"\n',
      'layouts/index.html': '<!DOCTYPE html><html><body>{{ .Content }}</body></html>\n',
    },
  }],
  'hugo': [{
    message: 'Hugo site with the Ananke theme',
    files: { 'config.toml': 'baseURL = "https://pages.gitlab.io/hugo/"\ntitle = "Hugo on GitLab Pages"\ntheme = "ananke"\n', 'content/_index.md': '# Hello\n' },
    submodules: [{ path: 'themes/ananke', url: '../gohugo-theme-ananke.git', project: 'hugo-theme' }],
  }],
  'gitlab-env': [{ message: 'Initial commit', files: { 'README.md': README('gitlab-env') } }],
  'gitlab-runner': [
    { message: 'Release 19.2.1', tag: 'v19.2.1', files: { 'VERSION': '19.2.1\n', 'README.md': README('gitlab-runner') } },
    { message: 'Release 19.3.0', tag: 'v19.3.0', files: { 'VERSION': '19.3.0\n' } },
    {
      message: 'Start 19.4.0',
      files: {
        'VERSION': '19.4.0\n',
        'Makefile': [
          'SHELLCHECK_REPORT_FILE ?= gl-shellcheck-report.json',
          'HADOLINT_REPORT_FILE ?= gl-hadolint-report.json',
          '',
          '.PHONY: lint-shell-report',
          'lint-shell-report:',
          '\t@# Offline stand-in for linter2cc shellcheck: no findings.',
          '\t@echo "[]" > $(SHELLCHECK_REPORT_FILE)',
          '',
          '.PHONY: lint-dockerfiles-report',
          'lint-dockerfiles-report:',
          '\t@# Offline stand-in for linter2cc hadolint: one finding.',
          `\t@echo '[{"check_name":"DL3018","severity":"minor","location":{"path":"dockerfiles/alpine/Dockerfile"}}]' > $(HADOLINT_REPORT_FILE)`,
          '',
          'release_s3:',
          '\t# Releasing to S3',
          '\t@./ci/release_s3',
          '',
        ].join('\n'),
        // Sets every tracked file's time to its last commit's, as the project's own script does.
        'ci/touch_git': exec('#!/usr/bin/env sh\nfor file in $(git ls-files); do\n  touch -d "@$(git log -1 --format=%ct -- "$file")" "$file"\ndone\n'),
        // The version of a build between releases: VERSION, commits since the last tag, the commit.
        'ci/version': exec(
          '#!/usr/bin/env bash\nset -eo pipefail\n' +
            'last_tag=$(git describe --tags --abbrev=0)\n' +
            'echo "$(cat VERSION)~pre.$(git rev-list --count "${last_tag}..HEAD").g$(git rev-parse --short=8 HEAD)"\n',
        ),
        'ci/release_s3': exec(
          '#!/usr/bin/env bash\n# Offline stand-in for the S3 upload: says what it would sign and upload.\nset -eo pipefail\n' +
            'echo "Signing out/release/index.html with passphrase ${GPG_PASSPHRASE}"\n' +
            'echo "Uploading out/release to s3://gitlab-runner-downloads/${CI_COMMIT_REF_NAME}/"\n',
        ),
      },
    },
  ],
  'gitlab-test': [{ message: 'Initial commit', files: { 'README.md': README('gitlab-test'), 'files/ruby/popen.rb': 'puts "popen"\n' } }],
  'fdroidserver': [{
    message: 'fdroidserver',
    files: {
      // Offline stand-in for the fdroid command line (the repository's `fdroid` script).
      'fdroid': exec(
        '#!/bin/sh\n# Offline stand-in for the fdroid command line.\n' +
          'echo "INFO: fdroid $* (offline stand-in): keystore=$keystore serverwebroot=$serverwebroot"\n',
      ),
      'locale/Makefile': 'compile:\n\tfor po in */LC_MESSAGES/fdroidserver.po; do msgfmt --check -o $${po%.po}.mo $$po || exit 1; done\n',
      'locale/de/LC_MESSAGES/fdroidserver.po': [
        'msgid ""',
        'msgstr ""',
        '"Project-Id-Version: fdroidserver 2.3\\n"',
        '"PO-Revision-Date: 2024-01-01 00:00+0000\\n"',
        '"Last-Translator: Corpus <corpus@example.com>\\n"',
        '"Language-Team: German\\n"',
        '"Language: de\\n"',
        '"MIME-Version: 1.0\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
        '',
        '#, python-format',
        'msgid "Could not find \'%s\' in %s"',
        'msgstr "Konnte \'%s\' nicht finden"',
        '',
      ].join('\n'),
      'tests/config.yml': 'repo_keyalias: sova\nkeystorepass: r9aquRHYoI8+dYz6jKrLntQ5\nkeypass: r9aquRHYoI8+dYz6jKrLntQ5\nkeystore: keystore.jks\n',
      'tests/config/mirrors.yml': '- url: https://f-droid.org/repo\n',
      'tests/config/de/antiFeatures.yml': 'Ads:\n  name: Werbung\n',
      'tests/keystore.jks': 'not a real keystore\n',
      'tests/urzip-release-unsigned.apk': 'not a real apk\n',
      'tests/gnupghome/pubring.kbx': 'not a real keyring\n',
      'buildserver/Dockerfile': 'FROM debian:bookworm\n',
    },
  }],
  'glib': [{
    message: 'glib',
    files: {
      'README.md': README('glib'),
      // Offline stand-in for lcov/genhtml in the project's coverage image: the summary its coverage regex reads.
      '.gitlab-ci/coverage-docker.sh': exec(
        '#!/bin/bash\nset -e\nmkdir -p _coverage\n' +
          'echo "Overall coverage rate:"\necho "  lines......: 82.3% (64019 of 77807 lines)"\necho "  functions..: 86.9% (5966 of 6866 functions)"\n',
      ),
    },
  }],
  'qemu': [{
    message: 'qemu',
    files: {
      'README.rst': '===========\nQEMU README\n===========\n',
      // Offline stand-in for QEMU's configure, on a machine without QEMU's build dependencies.
      'configure': exec(
        '#!/bin/sh\n# Offline stand-in for configure: the machine lacks glib.\n' +
          'echo "Using \'./build\' as the directory for build output"\n' +
          'printf \'%s\\n\' "# QEMU configure log" "# Configured with: \'../configure\' $*" "glib-2.0 >= 2.66: not found" > config.log\n' +
          'echo >&2\necho "ERROR: glib-2.66 gthread-2.0 is required to compile QEMU" >&2\nexit 1\n',
      ),
      // The project's helper for collapsible log sections (the markers of QEMU's scripts/ci/gitlab-ci-section).
      'scripts/ci/gitlab-ci-section': [
        "# Defines section_start and section_end, which print GitLab's collapsible section markers.",
        'section_start () {',
        '    printf "section_start:%s:%s\\r\\e[0K%s\\n" "$(date +%s)" "$1" "$2"',
        '}',
        'section_end () {',
        '    printf "section_end:%s:%s\\r\\e[0K\\n" "$(date +%s)" "$1"',
        '}',
        '',
      ].join('\n'),
    },
  }],
  'git': [{
    message: 'git',
    files: {
      'README.md': README('git'),
      // Offline stand-ins for the CI scripts of git: the dependencies are there, one test fails.
      'ci/install-dependencies.sh': exec('#!/bin/sh\necho "Dependencies for $jobname are installed (offline stand-in)."\n'),
      'ci/run-build-and-tests.sh': exec(
        '#!/bin/sh\necho "*** t0001-init.sh ***"\necho "ok 1 - plain"\necho "not ok 2 - plain nested in bare"\necho "# failed 1 among 2 test(s)"\nexit 1\n',
      ),
      'ci/print-test-failures.sh': exec(
        '#!/bin/sh\necho "------------------------------------------------------------------------"\necho "t0001-init.sh: not ok 2 - plain nested in bare"\n',
      ),
    },
  }],
};
