// A job log as GitLab Runner (shell executor, bash) writes it, built entry by
// entry and rendered byte for byte, with or without FF_TIMESTAMPS' line
// prefixes. The framing follows GitLab Runner 19.4 (see /tmp/spec/log-framing.md):
//
// - common/buildlogger/internal/tee.go: Println is `ESC[0K` + text + `ESC[0;m\n`,
//   Infoln green, Warningln yellow `WARNING: `, SoftErrorln red `ERROR: `;
// - helpers/build_section.go: `section_start:<epoch>:<name>\r ESC[0K` and
//   `section_end:...` are raw writes without a newline (only with
//   features.trace_sections, which GitLab always sends);
// - common/buildlogger/internal/timestamper: every line gets
//   `<time> <2-hex stream><O|E><' '|'+'>`; a write that leaves a line holding
//   `\r` but no newline is closed with an added newline and the writer's next
//   line is flagged `+`; a line still open when its writer closes gets a
//   newline too. Each writer has its own state: the header logger, the build
//   logger, the closing-line logger, and for every stage a fresh stdout (01O)
//   and stderr (01E) writer.
//
// What cannot be known before the job runs is left as a placeholder that
// normalise.ts puts into the actual log too: {{TS}}, {{EPOCH}}, {{RUNNER}},
// {{SYSTEM_ID}}, {{CORRELATION_ID}}.

export const ESC = '\x1b';
export const RESET = `${ESC}[0;m`;
export const CLEAR = `${ESC}[0K`;
export const GREEN = `${ESC}[32;1m`;
export const CYAN = `${ESC}[36;1m`;
export const RED = `${ESC}[31;1m`;
export const YELLOW = `${ESC}[0;33m`;

/** Which of GitLab Runner's writers produced an entry. */
type WriterKind = 'header' | 'build' | 'final' | 'stdout' | 'stderr';

interface Entry {
  readonly writer: WriterKind;
  /** For stdout/stderr: the stage whose writers these are (a new pair per stage). */
  readonly stage: number;
  /** The bytes of the write(s) that make this line, without the newline that ends it. */
  readonly text: string;
  /** Whether the job (or runner) wrote a newline after it; if not, the timestamper adds one. */
  readonly newline: boolean;
}

/** The output of one stage's script: its stdout and stderr lines, in the order they are written. */
export class StageOutput {
  constructor(private readonly add: (writer: 'stdout' | 'stderr', text: string, newline: boolean) => void) {}

  /** A line on stdout. */
  out(...lines: string[]): this {
    for (const line of lines) this.add('stdout', line, true);
    return this;
  }

  /** A line on stderr (GitLab Runner: stream 01E). */
  err(...lines: string[]): this {
    for (const line of lines) this.add('stderr', line, true);
    return this;
  }

  /** Output on stdout that the stage leaves without a final newline. */
  outUnterminated(text: string): this {
    this.add('stdout', text, false);
    return this;
  }

  /** GitLab Runner's echo of a script command (abstract.go writeCommands): `$ command` in bold green. */
  cmd(command: string): this {
    const lines = command.trim().split('\n');
    const shown = lines.length > 1 ? `${lines[0]} # collapsed multi-line command` : lines[0]!;
    return this.out(`${GREEN}$ ${shown}${RESET}`);
  }

  /** A runner-generated notice of the stage script (bash.go Noticef: echo in bold green). */
  notice(text: string): this {
    return this.out(`${GREEN}${text}${RESET}`);
  }

  /** A runner-generated warning of the stage script (bash.go Warningf: echo in yellow). */
  warning(text: string): this {
    return this.out(`${YELLOW}${text}${RESET}`);
  }
}

/** A whole job log under construction. */
export class GitLabLog {
  private readonly entries: Entry[] = [];
  private stageCount = 0;

  constructor(readonly timestamps: boolean) {}

  private push(writer: WriterKind, text: string, newline: boolean, stage = 0): void {
    this.entries.push({ writer, stage, text, newline });
  }

  /** printRunningWithHeader (build.go): its own logger, Println lines. */
  header(runnerName: string, shortToken: string, featureFlags: readonly string[] = []): this {
    this.push('header', `${CLEAR}Running with {{RUNNER}}${RESET}`, true);
    this.push('header', `${CLEAR}  on ${runnerName} ${shortToken}, system ID: {{SYSTEM_ID}}${RESET}`, true);
    if (featureFlags.length > 0) this.push('header', `${CLEAR}  feature flags: ${featureFlags.join(', ')}${RESET}`, true);
    return this;
  }

  /** A line of the build logger (Println). */
  println(text: string): this {
    this.push('build', `${CLEAR}${text}${RESET}`, true);
    return this;
  }

  /** Warningln of the build logger. */
  warning(text: string): this {
    this.push('build', `${YELLOW}WARNING: ${text}${RESET}`, true);
    return this;
  }

  /**
   * A stage (build.go executeStage): section_start, its title in cyan, the
   * lines `runner` adds (e.g. "Using Shell (bash) executor..."), the stage
   * script's output, section_end.
   */
  stage(name: string, title: string, body: (output: StageOutput) => void = () => undefined, runner: (log: this) => void = () => undefined): this {
    const stage = ++this.stageCount;
    this.push('build', `section_start:{{EPOCH}}:${name}\r${CLEAR}`, false);
    this.push('build', `${CLEAR}${CYAN}${title}${RESET}${RESET}`, true);
    runner(this);
    body(new StageOutput((writer, text, newline) => this.push(writer, text, newline, stage)));
    this.push('build', `section_end:{{EPOCH}}:${name}\r${CLEAR}`, false);
    return this;
  }

  /** setTraceStatus (build.go): a fresh logger, `Job succeeded` in green. */
  succeeded(): this {
    this.push('final', `${GREEN}Job succeeded${RESET}`, true);
    return this;
  }

  /** setTraceStatus: SoftErrorln `Job failed: <error>` (a BuildError). */
  failed(error: string): this {
    this.push('final', `${RED}ERROR: Job failed: ${error}${RESET}`, true);
    return this;
  }

  /** The log's bytes as GitLab Runner would send them (placeholders left in). */
  render(): string {
    return this.timestamps ? this.renderTimestamped() : this.entries.map((e) => e.text + (e.newline ? '\n' : '')).join('');
  }

  private renderTimestamped(): string {
    // Each writer instance keeps its own "continued" flag (timestamper.go).
    const continued = new Map<string, boolean>();
    let out = '';
    for (const entry of this.entries) {
      const key = entry.writer === 'stdout' || entry.writer === 'stderr' ? `${entry.writer}:${entry.stage}` : entry.writer;
      const stream = entry.writer === 'stdout' ? '01O' : entry.writer === 'stderr' ? '01E' : '00O';
      out += `{{TS}} ${stream}${continued.get(key) ? '+' : ' '}${entry.text}\n`;
      // A write that left a line holding `\r` without a newline is closed by the timestamper, and the writer's
      // next line is its continuation. (One without `\r` stays open until its writer closes: the stage's end.)
      continued.set(key, !entry.newline && entry.text.includes('\r'));
    }
    return out;
  }
}
