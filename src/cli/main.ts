// Dispatches the command line to a subcommand and turns known errors into one
// line on stderr and an exit code.
import { ConfigError } from '../config/load.ts';
import { WebConfigError } from '../server/web-config/web-config.ts';
import { oneLine } from '../config/describe-value.ts';
import { ListenAddressError } from '../config/listen-address.ts';
import { Logger } from '../log/logger.ts';
import { architecture, operatingSystem, runtime } from '../runtime/runtime.ts';
import { ServerStartError } from '../server/http-server.ts';
import { versionInfo } from '../version.ts';
import { parseFlags, UsageError } from './args.ts';
import { CANCEL_HELP, LIST_HELP, MAIN_HELP, RUN_HELP, SUBMIT_HELP, VERIFY_HELP } from './help.ts';
import { cancelCommand, listCommand } from './queue-commands.ts';
import { QUEUE_FLAG_SPECS, queueFlags } from './queue-of.ts';
import { runCommand } from './run.ts';
import { submitCommand } from './submit.ts';
import { verifyCommand } from './verify.ts';

/** Exit codes: 0 ok, 1 the runner failed, 2 bad usage or bad input. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function versionText(): string {
  return [
    `${versionInfo.name} ${versionInfo.version}`,
    `Git revision: ${versionInfo.revision}`,
    `Git branch:   ${versionInfo.branch}`,
    `Built:        ${versionInfo.builtAt}`,
    `Runtime:      ${runtime.name} ${runtime.version}`,
    `OS/Arch:      ${operatingSystem}/${architecture}`,
  ].join('\n') + '\n';
}

async function dispatch(argv: readonly string[], logger: Logger): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(MAIN_HELP);
    return command === undefined ? EXIT_USAGE : 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])} after ${command}`);
    process.stdout.write(versionText());
    return 0;
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
    return submitCommand({ ...queueFlags(values), wait: values['wait'] === true, jobFiles: positionals });
  }
  if (command === 'list') {
    const { values, positionals } = parseFlags(rest, QUEUE_FLAG_SPECS, 'runner list');
    if (values['help']) {
      process.stdout.write(LIST_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} for 'runner list' (see 'runner list --help')`);
    return listCommand(queueFlags(values));
  }
  if (command === 'cancel') {
    const { values, positionals } = parseFlags(rest, QUEUE_FLAG_SPECS, 'runner cancel');
    if (values['help']) {
      process.stdout.write(CANCEL_HELP);
      return 0;
    }
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
    return verifyCommand({ configPath: values['config'] as string | undefined });
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)} (expected run, submit, list, cancel, verify, --version or --help)`);
}

export async function main(argv: readonly string[]): Promise<number> {
  const logger = new Logger();
  try {
    return await dispatch(argv, logger);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof ListenAddressError || error instanceof WebConfigError) {
      process.stderr.write(`runner: ${oneLine(error.message)}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ServerStartError) {
      process.stderr.write(`runner: ${oneLine(error.message)}\n`);
      return EXIT_FAILURE;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`runner: internal error: ${oneLine(message)}\n`);
    if (process.env['RUNNER_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
    return EXIT_FAILURE;
  }
}
