// Bun's compiled executable: the ES module bundle compiled to bytecode into a copy of the
// installed Bun (bun build --compile works offline from the Bun in node_modules).
import { join } from 'node:path';
import { runCommand } from './run-command.ts';

export function buildBunExecutable(root: string, esmBundle: string, output: string): void {
  runCommand(join(root, 'node_modules', '.bin', 'bun'), ['build', '--compile', '--bytecode', '--format=esm', esmBundle, '--outfile', output]);
}
