// `npm run package`: builds every release artefact into release/ (docs/install.md):
//   node dist/deploy/package/build-release.js [npm] [node] [bun] [deno] [deb]   (default: all)
// The Debian package holds the Node executable, so `deb` builds `node` too; the Node executable
// carries the npm package's bundle and code cache, so `node` builds `npm` too.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { packageRoot, versionInfo } from '../../src/version.ts';
import { bundle } from './bundle.ts';
import { buildBunExecutable } from './bun-executable.ts';
import { buildDebianPackage } from './debian-package.ts';
import { buildDenoBundle } from './deno-bundle.ts';
import { bundledPackageDirs, thirdPartyLicenses } from './licenses.ts';
import { buildNodeExecutable } from './node-executable.ts';
import { buildNpmPackage, type TrainedBundle } from './npm-package.ts';
import { DENO_FILES, releaseFiles } from './release-files.ts';
import { runCommand } from './run-command.ts';

const ARTEFACTS = ['npm', 'node', 'bun', 'deno', 'deb'] as const;
type Artefact = (typeof ARTEFACTS)[number];

function chosen(argv: readonly string[]): Set<Artefact> {
  for (const word of argv) {
    if (!(ARTEFACTS as readonly string[]).includes(word)) throw new Error(`unknown artefact ${JSON.stringify(word)} (expected ${ARTEFACTS.join(', ')})`);
  }
  const set = new Set((argv.length === 0 ? ARTEFACTS : argv) as readonly Artefact[]);
  if (set.has('deb')) set.add('node');
  if (set.has('node')) set.add('npm');
  return set;
}

function step<T>(what: string, work: () => T): T {
  const started = Date.now();
  const result = work();
  if (result instanceof Promise) return result.then((value: unknown) => (console.log(`package: ${what} (${Date.now() - started} ms)`), value)) as T;
  console.log(`package: ${what} (${Date.now() - started} ms)`);
  return result;
}

async function main(): Promise<void> {
  const artefacts = chosen(process.argv.slice(2));
  const root = packageRoot();
  const info = versionInfo;
  const files = releaseFiles(root, info.version);
  const description = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { description: string }).description;
  const work = mkdtempSync(join(tmpdir(), 'runner-release-'));
  try {
    rmSync(files.dir, { recursive: true, force: true });
    mkdirSync(files.dir, { recursive: true });
    const cjs = join(work, 'runner.cjs');
    // Split: the entry, and chunks/ beside it (bundle.ts).
    const esm = join(work, 'esm', 'runner.mjs');
    const built = await step(
      'bundles (esbuild)',
      async () => [await bundle(root, 'cjs', cjs, info), await bundle(root, 'esm', esm, info, { splitting: true })],
    );
    const inputs = built.flatMap((result) => result.inputs);
    const licenses = thirdPartyLicenses(bundledPackageDirs(root, inputs));
    copyFileSync(join(root, 'deploy', 'package', 'LICENSE'), join(files.dir, 'LICENSE'));
    writeFileSync(join(files.dir, 'THIRD-PARTY-LICENSES'), licenses);
    const made: string[] = [];
    let trained: TrainedBundle | undefined;
    if (artefacts.has('npm')) {
      trained = await step(
        'npm package',
        () => buildNpmPackage({ root, info, description, bundle: cjs, licenses, workDir: join(work, 'npm'), tarball: files.npmTarball }),
      );
      made.push(files.npmTarball);
    }
    if (artefacts.has('node') && trained !== undefined) {
      const from = trained;
      await step('Node single executable', () => buildNodeExecutable(root, info, from, work, files.nodeExecutable));
      made.push(files.nodeExecutable);
    }
    if (artefacts.has('bun')) {
      await step('Bun executable', () => buildBunExecutable(root, info, esm, work, files.bunExecutable));
      made.push(files.bunExecutable);
    }
    if (artefacts.has('deno')) {
      made.push(...await step('Deno bundle', () => buildDenoBundle(root, info, esm, files.denoDir)));
    }
    if (artefacts.has('deb')) {
      const help = runCommand(files.nodeExecutable, ['--help']);
      step(
        'Debian package',
        () => buildDebianPackage({ root, info, executable: files.nodeExecutable, licenses, help, workDir: work, output: files.debianPackage }),
      );
      made.push(files.debianPackage);
    }
    // Paths relative to release/ (the Deno artefact is a directory): `sha256sum -c SHA256SUMS` there checks them all.
    const sums = made.map((path) => `${createHash('sha256').update(readFileSync(path)).digest('hex')}  ${relative(files.dir, path)}`);
    writeFileSync(files.checksums, sums.join('\n') + '\n');
    const mib = (paths: readonly string[]): string => `${(paths.reduce((sum, path) => sum + statSync(path).size, 0) / 1024 / 1024).toFixed(1)} MiB`;
    const chunks = made.filter((path) => basename(dirname(path)) === DENO_FILES.chunks);
    for (const path of made.filter((path) => !chunks.includes(path))) console.log(`package: ${relative(files.dir, path)}  ${mib([path])}`);
    if (chunks.length > 0) console.log(`package: ${relative(files.dir, dirname(chunks[0]!))}/ (${chunks.length} chunks)  ${mib(chunks)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
