// Node's single executable application: a copy of this Node binary with the CommonJS bundle and
// its V8 code cache injected (node --experimental-sea-config, then postject).
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, runCommand } from './run-command.ts';

/** The fuse Node looks for to know it carries an application (Node's documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export function buildNodeExecutable(root: string, bundle: string, workDir: string, output: string): void {
  const blob = join(workDir, 'sea-prep.blob');
  const config = join(workDir, 'sea-config.json');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  runCommand(process.execPath, ['--experimental-sea-config', config], { cwd: workDir });
  copyFileSync(process.execPath, output);
  // Node's symbols are of no use in a release (8 MiB); strip before injecting, never after.
  if (haveCommand('strip')) runCommand('strip', [output]);
  runCommand(join(root, 'node_modules', '.bin', 'postject'), [output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
}
