// Temporary trees and the external readers the artifact tests check archives with.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A fresh directory under the system temp dir; `cleanup` removes it. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `runner-artifacts-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The files under `dir` this process holds open (Linux /proc/self/fd). A writer that failed must
 * have closed its output before it says so, or the file appears after its directory was removed.
 */
export function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // closed while listing (the listing's own descriptor)
    }
  }
  return open;
}

/** Writes files (string content), directories (`null`) and symlinks (`{ link }`) under root. */
export function makeTree(root: string, tree: Record<string, string | null | { link: string }>): void {
  for (const [name, content] of Object.entries(tree)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    if (content === null) mkdirSync(path, { recursive: true });
    else if (typeof content === 'string') writeFileSync(path, content);
    else symlinkSync(content.link, path);
  }
}

/** Runs a command, returning its output; fails the test with its stderr on a non-zero exit. */
export function run(command: string, args: string[], cwd?: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Python's zipfile view of an archive: name -> [unix mode, size, testzip result]. */
export function pythonZipInfo(zipPath: string): { entries: Record<string, { mode: number; size: number; data?: string }>; bad: string | null } {
  const script = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
out = {}
for i in z.infolist():
    mode = i.external_attr >> 16
    e = {"mode": mode, "size": i.file_size}
    if (mode & 0o170000) == 0o120000:
        e["data"] = z.read(i).decode()
    out[i.filename] = e
print(json.dumps({"entries": out, "bad": z.testzip()}))
`;
  return JSON.parse(run('python3', ['-c', script, zipPath])) as ReturnType<typeof pythonZipInfo>;
}
