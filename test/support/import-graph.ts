// The imports between the folders of src/, and the check of them against
// the allowed directions (docs/architecture.md).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

/** An import of one folder of src/ by another: from file, to file, as folders. */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly file: string;
  readonly target: string;
  /** `import type` (or `export type`): erased from the JavaScript, a dependency of the types only. */
  readonly typeOnly: boolean;
}

/** The folder of src/ a path under it belongs to: its first segment (src/version.ts is `version`). */
export function folderOf(pathUnderSrc: string): string {
  const first = pathUnderSrc.split(sep)[0]!;
  return first.replace(/(\.d)?\.ts$/, '');
}

const SPECIFIER = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;
/** The statement a specifier ends: from its `import`/`export` keyword on. */
const STATEMENT_START = /\b(import|export)\b(?![\s\S]*\b(import|export)\b)/;

/** Every import from one folder of `srcDir` to another (type-only imports included). */
export function importEdges(srcDir: string): Edge[] {
  const edges: Edge[] = [];
  const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    for (const match of text.matchAll(SPECIFIER)) {
      const target = normalize(join(dirname(file), match[1]!));
      if (target.startsWith('..')) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      const statement = text.slice(0, match.index + match[0].length);
      const keyword = STATEMENT_START.exec(statement);
      const typeOnly = keyword !== null && /^(import|export)\s+type\b/.test(statement.slice(keyword.index));
      if (from !== to) edges.push({ from, to, file: join('src', file), target: join('src', target), typeOnly });
    }
  }
  return edges;
}

/** The folders of `srcDir` (and its top-level files, by name). */
export function folders(srcDir: string): string[] {
  return readdirSync(srcDir).map((name) => folderOf(name));
}

/** The edges `rules` (folder -> folders it may import) do not allow, as one line each. */
export function violations(edges: readonly Edge[], rules: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  return edges
    .filter((edge) => !rules.get(edge.from)?.has(edge.to))
    .map((edge) => `${edge.file} imports ${relative('.', edge.target)}: ${edge.from} may not import ${edge.to}`);
}
