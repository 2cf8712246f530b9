// Dispatches the command line to a subcommand and turns known errors into one
// line on stderr and an exit code. Each subcommand is loaded when it is chosen,
// so `--version` and `--help` load only this file, the flags and the help text
// (not the server, the OpenTelemetry SDK or the job engine).
import { oneLine } from '../config/describe-value.ts';
import { Logger } from '../log/logger.ts';
import { parseFlags, UsageError } from './args.ts';
import { CANCEL_HELP, LIST_HELP, RUN_HELP, SUBMIT_HELP, VERIFY_HELP } from './help.ts';
import { EXIT_USAGE, helpAnswer } from './help-answers.ts';
import { QUEUE_FLAG_SPECS, queueFlags } from './queue-flags.ts';

/** Exit codes: 0 ok, 1 the runner failed, 2 bad usage or bad input. */
export const EXIT_FAILURE = 1;
export { EXIT_USAGE };

async function dispatch(argv: readonly string[], logger: Logger): Promise<number> {
  // The release artefacts' entry points answer these the same way before loading the runner.
  const answer = helpAnswer(argv);
  if (answer !== undefined) {
    process.stdout.write(answer.text);
    return answer.code;
  }
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])} after ${command}`);
  }
  if (command === 'run') {
    const { values, positionals } = parseFlags(rest, {
      config: { type: 'string', short: 'c' },
      'metrics-server': { type: 'string' },
      'listen-address': { type: 'string' },
      'working-directory': { type: 'string', short: 'd' },
      'no-pprof': { type: 'boolean' },
      'web-config-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, 'runner run');
    if (values['help']) {
      process.stdout.write(RUN_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} for 'runner run' (see 'runner run --help')`);
    for (const flag of ['config', 'working-directory']) {
      if (values[flag] === '') throw new UsageError(`--${flag} is empty (expected a ${flag === 'config' ? 'file' : 'directory'} path)`);
    }
    const metrics = values['metrics-server'] as string | undefined;
    const listen = values['listen-address'] as string | undefined;
    if (metrics !== undefined && listen !== undefined && metrics !== listen) {
      throw new UsageError(`--metrics-server ${JSON.stringify(metrics)} and --listen-address ${JSON.stringify(listen)} differ: give only one`);
    }
    const { runCommand } = await import('./run.ts');
    return runCommand({
      configPath: values['config'] as string | undefined,
      metricsServer: metrics ?? listen,
      workingDirectory: values['working-directory'] as string | undefined,
      noPprof: values['no-pprof'] === true,
      webConfigFile: values['web-config-file'] as string | undefined,
    }, logger);
  }
  if (command === 'submit') {
    const { values, positionals } = parseFlags(rest, { ...QUEUE_FLAG_SPECS, wait: { type: 'boolean', short: 'w' } }, 'runner submit');
    if (values['help']) {
      process.stdout.write(SUBMIT_HELP);
      return 0;
    }
    const { submitCommand } = await import('./submit.ts');
    return submitCommand({ ...queueFlags(values), wait: values['wait'] === true, jobFiles: positionals });
  }
  if (command === 'list') {
    const { values, positionals } = parseFlags(rest, QUEUE_FLAG_SPECS, 'runner list');
    if (values['help']) {
      process.stdout.write(LIST_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} for 'runner list' (see 'runner list --help')`);
    const { listCommand } = await import('./queue-commands.ts');
    return listCommand(queueFlags(values));
  }
  if (command === 'cancel') {
    const { values, positionals } = parseFlags(rest, QUEUE_FLAG_SPECS, 'runner cancel');
    if (values['help']) {
      process.stdout.write(CANCEL_HELP);
      return 0;
    }
    const { cancelCommand } = await import('./queue-commands.ts');
    return cancelCommand(queueFlags(values), positionals);
  }
  if (command === 'verify') {
    const { values, positionals } = parseFlags(rest, {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    }, 'runner verify');
    if (values['help']) {
      process.stdout.write(VERIFY_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} for 'runner verify' (see 'runner verify --help')`);
    if (values['config'] === '') throw new UsageError('--config is empty (expected a file path)');
    const { verifyCommand } = await import('./verify.ts');
    return verifyCommand({ configPath: values['config'] as string | undefined });
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)} (expected run, submit, list, cancel, verify, --version or --help)`);
}

/**
 * The exit code of an error the runner explains in one line (bad input: 2, a server that cannot
 * start: 1), or undefined for an internal error. The error classes are loaded only here, after
 * something failed, so that a successful `--version` does not load their modules.
 */
async function knownErrorExitCode(error: unknown): Promise<number | undefined> {
  if (error instanceof UsageError) return EXIT_USAGE;
  const [{ ConfigError }, { ListenAddressError }, { WebConfigError }, { ServerStartError }] = await Promise.all([
    import('../config/load.ts'),
    import('../config/listen-address.ts'),
    import('../server/web-config/web-config.ts'),
    import('../server/http-server.ts'),
  ]);
  if (error instanceof ConfigError || error instanceof ListenAddressError || error instanceof WebConfigError) return EXIT_USAGE;
  if (error instanceof ServerStartError) return EXIT_FAILURE;
  return undefined;
}

export async function main(argv: readonly string[]): Promise<number> {
  const logger = new Logger();
  try {
    return await dispatch(argv, logger);
  } catch (error) {
    const known = await knownErrorExitCode(error);
    if (known !== undefined && error instanceof Error) {
      process.stderr.write(`runner: ${oneLine(error.message)}\n`);
      return known;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`runner: internal error: ${oneLine(message)}\n`);
    if (process.env['RUNNER_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
    return EXIT_FAILURE;
  }
}
