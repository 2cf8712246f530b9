// Run by `npm run build` (and so by `npm ci` through `prepare`): records the
// git revision, branch and build time for ci_runner_version_info and --version.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../version.ts';

function git(args: string[]): string | undefined {
  try {
    const out = execFileSync('git', args, { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

const info = {
  revision: git(['rev-parse', '--short=12', 'HEAD']) ?? 'unknown',
  branch: git(['rev-parse', '--abbrev-ref', 'HEAD']) ?? 'unknown',
  built_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
};
writeFileSync(join(packageRoot(), 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
