// The release bundles: the runner and everything it needs from node_modules, built with esbuild
// from cmd/runner.ts. CommonJS in one file for Node (its single executable and the V8 code cache
// need a classic script); ES modules for Deno and for Bun's compiler, split (`splitting`) where the
// runner imports a module on first use: the entry and the chunks it imports at once, and a chunk of
// its own for each lazy part (the job engine, the web config's loader and YAML, bcrypt, the OTLP
// exporters, the GitLab client, the pprof encoders), which a start that does not use it never reads.
import { build, type Plugin } from 'esbuild';
import { basename, dirname, join } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';

export type BundleFormat = 'cjs' | 'esm';

export interface BundleResult {
  /** The files the bundle was built from, relative to the root (esbuild's metafile). */
  readonly inputs: readonly string[];
}

/** yazl's require('buffer-crc32') gets buffer-crc32 with zlib's native crc32 (see native-crc32-for-yazl.cjs). */
function nativeCrc32ForYazl(root: string): Plugin {
  return {
    name: 'native-crc32-for-yazl',
    setup(build) {
      build.onResolve({ filter: /^buffer-crc32$/ }, (args) => {
        if (!/[\\/]node_modules[\\/]yazl[\\/]/.test(args.importer)) return undefined;
        return { path: join(root, 'deploy', 'package', 'native-crc32-for-yazl.cjs') };
      });
    },
  };
}

/**
 * src/version.ts becomes its build information alone: `versionInfo` is the RUNNER_BUILD_INFO
 * constant the build writes in (`define`), and what version.ts does without it (find the package
 * root and read package.json with node:fs, node:path and node:url) is left out. A bundle has no
 * package root, and those imports are hoisted to an ES module bundle's top, where they cost Deno's
 * `--version` about 30 ms of CPU.
 */
function buildInformationOnly(): Plugin {
  return {
    name: 'build-information-only',
    setup(build) {
      // Type imports of VersionInfo are erased from the importers; only the value is left to give.
      build.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({ contents: 'export const versionInfo = RUNNER_BUILD_INFO;\n', loader: 'js' }));
    },
  };
}

// An ES module bundle of CommonJS packages needs a real `require` for Node's built-in modules.
const ESM_REQUIRE_BANNER = "import { createRequire as __runnerCreateRequire } from 'node:module'; const require = __runnerCreateRequire(import.meta.url);";

export interface BundleOptions {
  /** The entry point, relative to the root; default the runner's cmd/runner.ts. */
  readonly entry?: string;
  /** Imports left as they are, for a later step to resolve (the Bun executable's entry). */
  readonly external?: readonly string[];
  /**
   * ES modules only: the entry goes to `outfile` and the modules it imports on first use to
   * chunks/ beside it (SPLIT_CHUNKS_DIR), which must travel with it.
   */
  readonly splitting?: boolean;
}

/** The directory, beside a split bundle's entry, that holds its chunks. */
export const SPLIT_CHUNKS_DIR = 'chunks';

/**
 * Writes one bundle to `outfile`. Whitespace and syntax are minified, identifiers are not: the
 * runner's own CPU and heap profiles name its functions, and a profile of a release must read as
 * one of the sources does.
 */
export async function bundle(root: string, format: BundleFormat, outfile: string, info: VersionInfo, options: BundleOptions = {}): Promise<BundleResult> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [join(root, options.entry ?? join('cmd', 'runner.ts'))],
    external: [...(options.external ?? [])],
    ...(options.splitting === true && format === 'esm'
      ? {
        outdir: dirname(outfile),
        splitting: true,
        entryNames: basename(outfile).replace(/\.m?js$/, ''),
        chunkNames: `${SPLIT_CHUNKS_DIR}/[name]-[hash]`,
        outExtension: { '.js': '.mjs' },
      }
      : { outfile }),
    bundle: true,
    platform: 'node',
    // The ES module build of a package that has one (OpenTelemetry's): esbuild drops what the
    // runner does not use of it, where it keeps all of a CommonJS build (most of
    // semantic-conventions' 180 KiB, which @opentelemetry/resources requires whole).
    mainFields: ['module', 'main'],
    target: 'node20',
    format,
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    // The licenses go into THIRD-PARTY-LICENSES, whole (licenses.ts).
    legalComments: 'none',
    metafile: true,
    define: { RUNNER_BUILD_INFO: JSON.stringify(info) },
    // Node's single executable and a vm.Script cannot import() (OpenTelemetry's exporter imports
    // node:http that way): the CommonJS bundle requires instead.
    supported: format === 'cjs' ? { 'dynamic-import': false } : {},
    // Only the runner's bundle holds CommonJS packages; the small entries (npm-bin.ts, sea-main.ts, bun-entry.ts, deno-entry.ts) need no require.
    banner: format === 'esm' && options.entry === undefined ? { js: ESM_REQUIRE_BANNER } : {},
    // import.meta.url is only read where a bundle never goes (an unbundled install's package root).
    logOverride: { 'empty-import-meta': 'silent' },
    plugins: [nativeCrc32ForYazl(root), buildInformationOnly()],
    logLevel: 'warning',
  });
  if (result.errors.length > 0) throw new Error(`esbuild failed for ${outfile}: ${result.errors.map((e) => e.text).join('; ')}`);
  return { inputs: Object.keys(result.metafile?.inputs ?? {}) };
}
