// Node's single executable application: a copy of this Node binary with a small main script
// (sea-main.ts) and, as assets, the npm package's wrapped bundle and the V8 code cache of its
// training run (npm-package.ts), injected with node --experimental-sea-config, then postject.
// Node names the main script in stack traces by the path the config gives it (its code cache or
// not): a relative one, resolved in `workDir`, so that no build directory shows (SCRIPT_NAMES).
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VersionInfo } from '../../src/version.ts';
import { bundle } from './bundle.ts';
import type { TrainedBundle } from './npm-package.ts';
import { haveCommand, runCommand } from './run-command.ts';
import { SCRIPT_NAMES, SEA_ASSETS } from './wrapped-bundle.ts';

/** The fuse Node looks for to know it carries an application (Node's documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export async function buildNodeExecutable(root: string, info: VersionInfo, trained: TrainedBundle, workDir: string, output: string): Promise<void> {
  await bundle(root, 'cjs', join(workDir, SCRIPT_NAMES.seaMain), info, { entry: join('deploy', 'package', 'sea-main.ts') });
  const blob = join(workDir, 'sea-prep.blob');
  const config = join(workDir, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: SCRIPT_NAMES.seaMain,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets: { [SEA_ASSETS.bundle]: trained.bundle, [SEA_ASSETS.codeCache]: trained.codeCache },
    }),
  );
  runCommand(process.execPath, ['--experimental-sea-config', config], { cwd: workDir });
  copyFileSync(process.execPath, output);
  // Node's symbols are of no use in a release (8 MiB); strip before injecting, never after.
  if (haveCommand('strip')) runCommand('strip', [output]);
  runCommand(join(root, 'node_modules', '.bin', 'postject'), [output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
}
