// GitLab Runner's expansion of variable values: Go's os.Expand over the job's
// own variables (never the runner's environment), in one pass. `$NAME` and
// `${NAME}` become the variable's value (a file variable's path), unknown
// names become empty; `$$` is a `$`; shell operators are not understood
// (`${X:-d}` looks up a variable named `X:-d`); `$1`, `$*`, `$@`, `$#`, `$!`,
// `$?` become empty; `${}` and an unclosed `${` are dropped; a `$` followed
// by anything else stays.

/** The characters Go's os.Expand takes as a one-character name after `$`. */
const SPECIAL = new Set([...'*#$@!?-0123456789']);
const NAME_CHARACTER = /[A-Za-z0-9_]/;

/** What a name stands for; `$` for `$$`. */
export type Lookup = (name: string) => string;

/** The name after a `$` at `text[from]`, and how many characters it takes (Go's getShellName). */
function shellName(text: string, from: number): { name: string; width: number } {
  const first = text[from]!;
  if (first === '{') {
    if (text.length > from + 2 && SPECIAL.has(text[from + 1]!) && text[from + 2] === '}') return { name: text[from + 1]!, width: 3 };
    const close = text.indexOf('}', from + 1);
    if (close === -1) return { name: '', width: 1 };
    if (close === from + 1) return { name: '', width: 2 };
    return { name: text.slice(from + 1, close), width: close - from + 1 };
  }
  if (SPECIAL.has(first)) return { name: first, width: 1 };
  let end = from;
  while (end < text.length && NAME_CHARACTER.test(text[end]!)) end++;
  return { name: text.slice(from, end), width: end - from };
}

export function expand(text: string, lookup: Lookup): string {
  if (!text.includes('$')) return text;
  let out = '';
  let copied = 0;
  for (let at = 0; at < text.length; at++) {
    if (text[at] !== '$' || at + 1 >= text.length) continue;
    out += text.slice(copied, at);
    const { name, width } = shellName(text, at + 1);
    if (name === '' && width === 0) out += '$';
    else if (name !== '') out += lookup(name);
    at += width;
    copied = at + 1;
  }
  return out + text.slice(copied);
}

/** GitLab Runner's lookup rules for the special names: `$` is itself, the positional and status ones are empty. */
export function specialName(name: string): string | undefined {
  if (name === '$') return '$';
  if (name.length === 1 && '*#@!?0123456789'.includes(name)) return '';
  return undefined;
}
