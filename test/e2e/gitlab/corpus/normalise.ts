// Puts the placeholders of gitlab-log.ts into an actual job log, for the
// values no expectation can know in advance, and compares the two line by
// line. Everything else stays strict: every byte of every line, colours,
// `\r`, order, the `+` continuation flags.
//
// Replaced (each only where it has GitLab Runner's exact form, so a wrong
// form still fails):
//   {{TS}}             the time of a line prefix: YYYY-MM-DDTHH:MM:SS.uuuuuuZ
//   {{EPOCH}}          the Unix seconds of a section marker
//   {{RUNNER}}         `<name> <version> (<revision>)` of the header's first line
//   {{SYSTEM_ID}}      s_ + 12 hex digits, or r_ + 12 alphanumerics
//   {{CORRELATION_ID}} 32 hex digits: must be the X-Request-Id of a job request the coordinator answered 201
// Documented deviations of this runner, made equal on both sides:
//   - the resource line `Job used N s of CPU, peak RSS N MiB (...)` this runner adds before the closing line is removed;
//   - stderr lines: GitLab Runner marks them `01E`, this runner `01O` (the job's stdout and stderr are one pipe, so the
//     log keeps the order they were written in): `01E` becomes `01O` on both sides;
//   - the warning `this runner's shell executor does not support image[, services]: ignored` is removed (GitLab
//     Runner's shell executor ignores both without a word).

export interface Normalised {
  readonly text: string;
  /** What did not have the expected form (a wrong time prefix, an unknown correlation id, epochs going back). */
  readonly problems: readonly string[];
}

const TS_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (0[01][OE][ +])/;
const IGNORED_WARNING = "\x1b\\[0;33mWARNING: this runner's shell executor does not support (image|services|image, services): ignored\x1b\\[0;m\\n";
const RESOURCE_LINE =
  "\x1b\\[0KJob used \\d+\\.\\d\\d s of CPU, peak RSS (\\d+\\.\\d MiB \\(approximate: sampled every second from /proc\\)|not sampled \\(the job's processes ended before the first sample\\))\x1b\\[0;m\\n";

/** Splits after every newline (the last piece may have none). */
export function splitLines(text: string): string[] {
  return text.split(/(?<=\n)/);
}

/** Both sides: the stream type of stderr lines (a documented deviation). */
export function sameStreams(text: string): string {
  return text.replace(/^\{\{TS\}\} 01E/gm, '{{TS}} 01O');
}

export function normaliseLog(actual: string, options: { timestamps: boolean; correlationIds: ReadonlySet<string> }): Normalised {
  const problems: string[] = [];
  let text = actual;
  if (options.timestamps) {
    text = splitLines(text).map((line, i) => {
      const match = TS_PREFIX.exec(line);
      if (!match) {
        problems.push(`line ${i + 1} has no time prefix: ${JSON.stringify(line.slice(0, 80))}`);
        return line;
      }
      return `{{TS}} ${match[1]}${line.slice(match[0].length)}`;
    }).join('');
    for (const line of [RESOURCE_LINE, IGNORED_WARNING]) text = text.replace(new RegExp(`^\\{\\{TS\\}\\} 00O[ +]${line}`, 'm'), '');
  } else {
    for (const line of [RESOURCE_LINE, IGNORED_WARNING]) text = text.replace(new RegExp(line), '');
  }
  let lastEpoch = 0;
  text = text.replace(/section_(start|end):(\d+):/g, (_, kind: string, epoch: string) => {
    if (Number(epoch) < lastEpoch) problems.push(`section_${kind} at ${epoch} is before an earlier marker's ${lastEpoch}`);
    lastEpoch = Math.max(lastEpoch, Number(epoch));
    return `section_${kind}:{{EPOCH}}:`;
  });
  // deno-lint-ignore no-control-regex -- the header's escape sequences are part of its form
  text = text.replace(/\x1b\[0KRunning with \S+ \S+ \(\S+\)\x1b\[0;m/, '\x1b[0KRunning with {{RUNNER}}\x1b[0;m');
  // deno-lint-ignore no-control-regex -- as above
  text = text.replace(/, system ID: (s_[0-9a-f]{12}|r_[0-9A-Za-z]{12})\x1b/, ', system ID: {{SYSTEM_ID}}\x1b');
  text = text.replace(/Gitaly correlation ID: ([0-9a-f]{32})/g, (whole, id: string) => {
    if (options.correlationIds.has(id)) return 'Gitaly correlation ID: {{CORRELATION_ID}}';
    problems.push(`correlation id ${id} is not the X-Request-Id of a job request`);
    return whole;
  });
  return { text: sameStreams(text), problems };
}

type Edit = { readonly kind: 'same' | 'expected' | 'actual'; readonly line: string; readonly at: number };

/** The edit script between two line lists (longest common subsequence; job logs are short). */
function edits(want: readonly string[], got: readonly string[]): Edit[] {
  const n = want.length;
  const m = got.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = want[i] === got[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && want[i] === got[j]) out.push({ kind: 'same', line: want[i++]!, at: j++ });
    else if (j < m && (i === n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push({ kind: 'actual', line: got[j]!, at: j++ });
    else out.push({ kind: 'expected', line: want[i]!, at: i++ });
  }
  return out;
}

/** undefined when equal; else every differing stretch of lines (up to 6), with two lines of context. */
export function describeDifferences(expected: string, actual: string): string | undefined {
  if (expected === actual) return undefined;
  const want = splitLines(expected);
  const got = splitLines(actual);
  const script = edits(want, got);
  const show = (e: Edit): string =>
    `  ${e.kind === 'same' ? ' ' : e.kind === 'expected' ? '-' : '+'} ${String(e.at + 1).padStart(4)} ${JSON.stringify(e.line)}`;
  const hunks: string[] = [];
  let k = 0;
  while (k < script.length && hunks.length < 6) {
    if (script[k]!.kind === 'same') {
      k++;
      continue;
    }
    let end = k;
    while (end < script.length && (script[end]!.kind !== 'same' || script.slice(end, end + 3).some((e) => e.kind !== 'same'))) end++;
    hunks.push(script.slice(Math.max(0, k - 2), Math.min(script.length, end + 2)).map(show).join('\n'));
    k = end;
  }
  const count = script.filter((e) => e.kind !== 'same').length;
  return [
    `the log differs from GitLab Runner's in ${count} lines (expected ${want.length} lines, got ${got.length}; - GitLab Runner, + this runner, numbers of each side):`,
    ...hunks.map((hunk, i) => `@@ ${i + 1}\n${hunk}`),
  ].join('\n');
}
