// The lines the cache stages put into a job's log, kept as data until the
// build sequence writes them. Two voices speak in GitLab Runner's cache
// stages: the stage script (the bash writer's Noticef/Warningf/Printf, in
// shells/bash.go) and the helper it runs (gitlab-runner-helper's logrus
// lines in log/runner_formatter.go: a level prefix, the message padded to
// 50 columns, a reset and a space). Rendering them here keeps those bytes
// in one place.

/** A line of the stage script: green notice, yellow warning (no prefix), or plain. */
export interface ScriptLine {
  readonly kind: 'notice' | 'warning' | 'print';
  readonly text: string;
}

/** A line of the cache helper (GitLab's cache-extractor/cache-archiver). */
export interface HelperLine {
  readonly kind: 'helper';
  readonly level: 'info' | 'warning' | 'fatal';
  readonly text: string;
}

export type CacheLogLine = ScriptLine | HelperLine;

export const notice = (text: string): ScriptLine => ({ kind: 'notice', text });
export const warning = (text: string): ScriptLine => ({ kind: 'warning', text });
export const print = (text: string): ScriptLine => ({ kind: 'print', text });
export const helper = (level: HelperLine['level'], text: string): HelperLine => ({ kind: 'helper', level, text });

const ANSI = {
  boldGreen: '\x1b[32;1m',
  boldRed: '\x1b[31;1m',
  yellow: '\x1b[0;33m',
  reset: '\x1b[0;m',
} as const;

/** The helper's log levels (logrus), as its formatter colours and prefixes them. */
export type HelperLevel = 'info' | 'warning' | 'error' | 'fatal';

const HELPER_STYLE: Readonly<Record<HelperLevel, { color: string; prefix: string }>> = {
  info: { color: '', prefix: '' },
  warning: { color: ANSI.yellow, prefix: 'WARNING: ' },
  error: { color: ANSI.boldRed, prefix: 'ERROR: ' },
  fatal: { color: ANSI.boldRed, prefix: 'FATAL: ' },
};

/** Go's %-*s: padded with spaces to WIDTH characters (runes), never cut. */
function padRight(text: string, width: number): string {
  const length = [...text].length;
  return length >= width ? text : text + ' '.repeat(width - length);
}

/**
 * A helper's logrus entry as its RunnerTextFormatter writes it (log/runner_formatter.go): the
 * level's colour and prefix, the message padded to 50 columns, a reset, then each field sorted by
 * key (` key=value`, the key coloured); fields whose value is undefined are left out.
 */
export function renderHelperLine(level: HelperLevel, message: string, fields: Readonly<Record<string, string | number | undefined>> = {}): string {
  const { color, prefix } = HELPER_STYLE[level];
  const keys = Object.keys(fields).filter((key) => fields[key] !== undefined).sort();
  const tail = keys.map((key) => ` ${color}${key}${ANSI.reset}=${fields[key]}`).join('');
  return `${color}${prefix}${padRight(message, 50 - prefix.length)}${ANSI.reset} ${tail}\n`;
}

/** A line as GitLab Runner's job log has it, with its newline. */
export function renderCacheLogLine(line: CacheLogLine): string {
  switch (line.kind) {
    case 'notice':
      return `${ANSI.boldGreen}${line.text}${ANSI.reset}\n`;
    case 'warning':
      return `${ANSI.yellow}${line.text}${ANSI.reset}\n`;
    case 'print':
      return `${ANSI.reset}${line.text}\n`;
    case 'helper':
      return renderHelperLine(line.level, line.text);
  }
}
