// Leveled logger writing one line per entry to stderr, as text or JSON.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal', 'panic'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type Fields = Readonly<Record<string, string | number | boolean | undefined>>;

const SEVERITY: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4, panic: 5 };

export interface LineWriter {
  write(line: string): void;
}

const stderrSink: LineWriter = { write: (line) => process.stderr.write(line) };

function quoteIfNeeded(value: string): string {
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  return value === '' || /[\s"=\\\u0000-\u001f\u007f]/.test(value) ? JSON.stringify(value) : value;
}

// A message may carry text from outside (a config key, a file name): escape
// control characters so it can neither forge a second log line nor drive the terminal.
// deno-lint-ignore no-control-regex -- control characters are what this matches
const CONTROL = /[\u0000-\u001f\u007f]/g;
const escapeControl = (text: string): string => text.replace(CONTROL, (c) => JSON.stringify(c).slice(1, -1));

export class Logger {
  constructor(
    private level: LogLevel = 'info',
    private format: LogFormat = 'text',
    private readonly sink: LineWriter = stderrSink,
  ) {}

  private counter: ((level: LogLevel) => void) | undefined;

  /** Every entry's level goes to `counter` too, whether or not log_level lets it through (ci_runner_errors_total). */
  countWith(counter: (level: LogLevel) => void): void {
    this.counter = counter;
  }

  configure(level: LogLevel, format: LogFormat): void {
    this.level = level;
    this.format = format;
  }

  debug(message: string, fields?: Fields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: Fields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: Fields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: Fields): void {
    this.log('error', message, fields);
  }

  log(level: LogLevel, message: string, fields: Fields = {}): void {
    this.counter?.(level);
    if (SEVERITY[level] < SEVERITY[this.level]) return;
    const time = new Date().toISOString();
    const defined = Object.entries(fields).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined);
    if (this.format === 'json') {
      this.sink.write(JSON.stringify({ time, level, msg: message, ...Object.fromEntries(defined) }) + '\n');
      return;
    }
    const rendered = defined.map(([key, value]) => `${key}=${quoteIfNeeded(String(value))}`).join(' ');
    this.sink.write(`${time} ${level.toUpperCase().padEnd(5)} ${escapeControl(message)}${rendered ? '  ' + rendered : ''}\n`);
  }
}
