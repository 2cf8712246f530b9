// The licenses of what a bundle holds: the runner's own and each npm package esbuild put in it,
// found through the bundle's metafile, with the license file each package ships.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package directories (node_modules/NAME or node_modules/@SCOPE/NAME) of the bundle's input paths. */
export function bundledPackageDirs(root: string, inputs: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const match = /^(.*?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll('\\', '/'));
    if (match?.[1]) dirs.add(join(root, match[1]));
  }
  return [...dirs].sort();
}

function packageLicense(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string; license?: string; author?: unknown };
  const file = readdirSync(dir).find((name) => /^(licen[cs]e|copying)(\.md|\.txt)?$/i.test(name));
  if (file === undefined) {
    // A few packages name their license in package.json only: say so rather than invent a text.
    if (typeof manifest.license !== 'string') throw new Error(`${dir}: neither a LICENSE file nor a license in package.json`);
    const author = typeof manifest.author === 'string' ? manifest.author : JSON.stringify(manifest.author ?? 'its authors');
    return `${manifest.name}@${manifest.version} (${manifest.license})\n\nThe package ships no license file; its package.json gives the license ${manifest.license}, author ${author}.\n`;
  }
  return `${manifest.name}@${manifest.version} (${manifest.license ?? 'see below'})\n\n${readFileSync(join(dir, file), 'utf8').trim()}\n`;
}

/** THIRD-PARTY-LICENSES: every bundled package's name, version and license text. */
export function thirdPartyLicenses(packageDirs: readonly string[], extra: readonly { name: string; file: string }[] = []): string {
  const sections = packageDirs.map(packageLicense);
  for (const { name, file } of extra) {
    if (existsSync(file)) sections.push(`${name}\n\n${readFileSync(file, 'utf8').trim()}\n`);
  }
  return `The runner's release bundles hold these packages, under these licenses.\n\n${sections.join(`\n${'-'.repeat(78)}\n\n`)}`;
}
