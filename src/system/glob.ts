// GitLab's glob syntax for artifacts and cache paths, as GitLab Runner matches it with
// github.com/bmatcuk/doublestar/v4 (commands/helpers/file_archiver.go): `*` and `?` stop at `/`,
// `**` as a whole path component is zero or more directories (so `dir/**` matches `dir` itself
// too), `[abc]`, `[!abc]`/`[^abc]`, `{a,b}` alternatives, `\` escapes. Hidden files are not
// special: `*` matches `.env` as doublestar does.

const META = /[*?[{\\]/;

/** True if the text has glob meta characters (GitLab's check is `*?[{`). */
export function hasGlobMeta(pattern: string): boolean {
  return /[*?[{]/.test(pattern);
}

/**
 * doublestar.SplitPattern: the static directory prefix before the first component with a meta
 * character, and the rest. `a/b/*.txt` -> [`a/b`, `*.txt`]; `*.txt` -> [`.`, `*.txt`].
 */
export function splitPattern(pattern: string): [string, string] {
  const parts = pattern.split('/');
  let i = 0;
  while (i < parts.length && !META.test(parts[i] ?? '')) i++;
  if (i === 0) return ['.', pattern];
  if (i === parts.length) {
    // No meta at all: the last component is the "pattern" part, as doublestar splits at the last slash.
    const slash = pattern.lastIndexOf('/');
    return slash < 0 ? ['.', pattern] : [pattern.slice(0, slash) || '/', pattern.slice(slash + 1)];
  }
  const base = parts.slice(0, i).join('/');
  return [base === '' ? '/' : base, parts.slice(i).join('/')];
}

/** Expands `{a,b}` alternatives (nested ones too) into plain patterns, so a brace may span `/`. */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A class may hold `{` or `,` literally.
      const close = pattern.indexOf(']', i + 2);
      if (close > 0) i = close;
      continue;
    }
    if (c === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const alternatives = splitTopLevelCommas(pattern.slice(open + 1, i));
        const head = pattern.slice(0, open);
        const tail = pattern.slice(i + 1);
        return alternatives.flatMap((alternative) => expandBraces(head + alternative + tail));
      }
    }
  }
  return [pattern];
}

function splitTopLevelCommas(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** One path component (no `/`, no braces) as a RegExp source. */
function componentSource(component: string): string {
  let out = '';
  for (let i = 0; i < component.length; i++) {
    const c = component[i] ?? '';
    if (c === '\\' && i + 1 < component.length) {
      out += escapeRegExp(component[++i] ?? '');
    } else if (c === '*') {
      while (component[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = component.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = component.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      const cls = body.replace(/\\(.)/g, '$1').replace(/[\]\\^]/g, '\\$&');
      out += negate ? `[^/${cls}]` : `[${cls}]`;
      i = close;
    } else {
      out += escapeRegExp(c);
    }
  }
  return out;
}

/** A compiled component: `**` (any number of directories), a literal name, or a RegExp. */
export type GlobComponent =
  | { readonly kind: 'globstar' }
  | { readonly kind: 'literal'; readonly name: string }
  | { readonly kind: 'pattern'; readonly regexp: RegExp };

/** Splits a brace-free pattern into compiled components. */
export function compileComponents(pattern: string): GlobComponent[] {
  return pattern.split('/').filter((part) => part !== '' && part !== '.').map((part): GlobComponent => {
    if (part === '**') return { kind: 'globstar' };
    if (!META.test(part)) return { kind: 'literal', name: part };
    return { kind: 'pattern', regexp: new RegExp(`^${componentSource(part)}$`, 's') };
  });
}

/** A whole relative path matcher: doublestar.Match(pattern, path). */
export function compileMatcher(pattern: string): (path: string) => boolean {
  const sources = expandBraces(pattern).map((one) => {
    const parts = one.split('/').filter((part) => part !== '' && part !== '.');
    let source = '';
    parts.forEach((part, index) => {
      const last = index === parts.length - 1;
      if (part === '**') {
        // Zero or more whole directories; a trailing `/**` also matches the directory itself.
        source += last ? (index === 0 ? '.*' : '(?:/.*)?') : index === 0 ? '(?:.*/)?' : '/(?:.*/)?';
        return;
      }
      const previousGlobstar = index > 0 && parts[index - 1] === '**';
      if (index > 0 && !previousGlobstar) source += '/';
      source += componentSource(part);
    });
    return source;
  });
  const regexp = new RegExp(`^(?:${sources.join('|')})$`, 's');
  return (path) => regexp.test(path);
}
