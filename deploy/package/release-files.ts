// Names and places of the release artefacts, shared by the builder and the smoke tests.
import { join } from 'node:path';

/** The npm package's name: `runner` on the registry is another project's. */
export const NPM_PACKAGE_NAME = 'ci-runner-agent';
/** The Debian package's name (the command it installs is still `runner`). */
export const DEBIAN_PACKAGE_NAME = 'ci-runner-agent';

/**
 * What the Deno artefact's directory holds: the entry `deno run` starts, the bundle it imports, and
 * the directory of the chunks the bundle imports (bundle.ts's SPLIT_CHUNKS_DIR).
 */
export const DENO_FILES = { entry: 'runner.mjs', main: 'main.mjs', chunks: 'chunks' } as const;

export interface ReleaseFiles {
  readonly dir: string;
  /** `npm install -g` this: the runner for Node, one bundled file and its code cache. */
  readonly npmTarball: string;
  /** Node's single executable application: Node and the runner in one file. */
  readonly nodeExecutable: string;
  /** Bun's compiled executable (bytecode): Bun and the runner in one file. */
  readonly bunExecutable: string;
  /**
   * The directory `deno run -A DIR/runner.mjs` runs from: a small entry and the ES module bundle it
   * imports (deno-bundle.ts; deno compile cannot be built here: docs/install.md).
   */
  readonly denoDir: string;
  /** The Debian package: the Node executable, the systemd unit, a commented config.toml. */
  readonly debianPackage: string;
  readonly checksums: string;
}

/** Debian's name for this machine's architecture (the executables are built for the one they are built on). */
export function debianArchitecture(arch: string = process.arch): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    default:
      throw new Error(`no Debian architecture known for ${JSON.stringify(arch)} (expected x64 or arm64)`);
  }
}

export function releaseFiles(root: string, version: string, arch: string = process.arch): ReleaseFiles {
  const dir = join(root, 'release');
  return {
    dir,
    npmTarball: join(dir, `${NPM_PACKAGE_NAME}-${version}.tgz`),
    nodeExecutable: join(dir, `runner-${version}-linux-${arch}-node`),
    bunExecutable: join(dir, `runner-${version}-linux-${arch}-bun`),
    denoDir: join(dir, `runner-${version}-deno`),
    debianPackage: join(dir, `${DEBIAN_PACKAGE_NAME}_${version}_${debianArchitecture(arch)}.deb`),
    checksums: join(dir, 'SHA256SUMS'),
  };
}
