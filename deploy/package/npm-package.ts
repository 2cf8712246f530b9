// The npm package: `npm install -g` puts `runner` on PATH and needs no dev tools, no build and no
// dependencies - bin/runner.js (npm-bin.ts, bundled) answers --version and --help itself and runs
// lib/runner.cjs, the bundle of the runner and every runtime dependency, through the V8 code cache
// made here.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';
import { bundle } from './bundle.ts';
import { trainingRun } from './training-run.ts';
import { NPM_PACKAGE_NAME } from './release-files.ts';
import { runCommand } from './run-command.ts';
import { BUNDLE_IN_PACKAGE } from './wrapped-bundle.ts';

export interface NpmPackageInput {
  readonly root: string;
  readonly info: VersionInfo;
  readonly description: string;
  /** The CommonJS bundle. */
  readonly bundle: string;
  readonly licenses: string;
  /** Where npm pack works. */
  readonly workDir: string;
  readonly tarball: string;
}

function packageReadme(info: VersionInfo): string {
  return `# ${NPM_PACKAGE_NAME}

The \`runner\` CI job agent ${info.version} for Node.js 20 or later: a GitLab Runner compatible
job agent with an embedded Prometheus metrics and Go pprof server.

    npm install -g ${NPM_PACKAGE_NAME}
    runner --help
    runner run --metrics-server 127.0.0.1:9252

The package is one bundled file with no dependencies. config.toml.example lists every setting.
`;
}

/**
 * lib/runner.cjs as bin/runner.js compiles it (npm-bin.ts): the CommonJS bundle inside Node's
 * module wrapper, its #! line (cmd/runner.ts's) made a comment, and every character beyond ASCII
 * written as a \u escape, so that reading the file as latin1 gives the same program. esbuild
 * escapes them in strings but not in regular expression literals (go-duration.ts's `µs`); a
 * `\uXXXX` means the same character there, in a string and in an identifier. Only a template
 * literal's raw text would differ, and String.raw is not used on one holding such a character.
 */
export function wrappedBundle(bundle: string): string {
  const ascii = bundle.replace(/^#!/, '//').replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Module.wrap(ascii);
}

/** The package's wrapped bundle and the code cache of its training run, which Node's single executable carries too. */
export interface TrainedBundle {
  readonly bundle: string;
  readonly codeCache: string;
}

export async function buildNpmPackage(input: NpmPackageInput): Promise<TrainedBundle> {
  const dir = join(input.workDir, 'package');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'lib'), { recursive: true });
  await bundle(input.root, 'cjs', join(dir, 'bin', 'runner.js'), input.info, { entry: join('deploy', 'package', 'npm-bin.ts') });
  chmodSync(join(dir, 'bin', 'runner.js'), 0o755);
  const bundlePath = join(dir, BUNDLE_IN_PACKAGE);
  writeFileSync(bundlePath, wrappedBundle(readFileSync(input.bundle, 'utf8')));
  copyFileSync(join(input.root, 'config.toml.example'), join(dir, 'config.toml.example'));
  copyFileSync(join(input.root, 'deploy', 'package', 'LICENSE'), join(dir, 'LICENSE'));
  writeFileSync(join(dir, 'THIRD-PARTY-LICENSES'), input.licenses);
  writeFileSync(join(dir, 'README.md'), packageReadme(input.info));
  const manifest = {
    name: NPM_PACKAGE_NAME,
    version: input.info.version,
    description: input.description,
    license: 'MIT',
    bin: { runner: 'bin/runner.js' },
    engines: { node: '>=20' },
    files: ['bin/', 'lib/', 'config.toml.example', 'THIRD-PARTY-LICENSES'],
    keywords: ['ci', 'gitlab-runner', 'prometheus', 'pprof', 'opentelemetry'],
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  // The cache is made under the bundle's name inside the package, not this directory's (wrapped-bundle.ts).
  await trainingRun([process.execPath, join(dir, 'bin', 'runner.js')], 'RUNNER_WRITE_CODE_CACHE', `${bundlePath}.cache`);
  runCommand('npm', ['pack', '--silent', '--pack-destination', input.workDir], { cwd: dir });
  copyFileSync(join(input.workDir, `${NPM_PACKAGE_NAME}-${input.info.version}.tgz`), input.tarball);
  return { bundle: bundlePath, codeCache: `${bundlePath}.cache` };
}
