// The Deno artefact's dynamic imports, rewritten so that Deno reads a chunk only when it is first
// imported (deno-bundle.ts), and found again in either form (the release tests check each resolves).

/** A dynamic import of one of the artefact's own modules as esbuild writes it: named by a string literal. */
const LITERAL_RELATIVE_IMPORT = /(?<![.\w$])import\("(\.\.?\/[^"]+)"\)/g;

/**
 * Deno reads, parses and keeps every module that a dynamic import names by a string literal as it
 * loads the entry (its module graph), whether or not the import ever runs: `run` read all 56
 * chunks (1.1 MiB). Named through an expression, a module is read when first imported: 32 chunks
 * (0.45 MiB) for a default start, and 2.4 MiB less idle RSS (59.7 -> 57.3 MiB, median of 5,
 * 2026-12-07). The specifier stays the same relative path, resolved from the same module.
 */
export function importedOnFirstUse(source: string): string {
  return source.replace(LITERAL_RELATIVE_IMPORT, (_call, specifier: string) => `import(["${specifier}"][0])`);
}

/** The relative specifiers of a module's dynamic imports in either form (release tests check each resolves). */
export function dynamicImportSpecifiers(source: string): string[] {
  return [...source.matchAll(/(?<![.\w$])import\(\[?"(\.\.?\/[^"]+)"(?:\]\[0\])?\)/g)].map((match) => match[1]!);
}
