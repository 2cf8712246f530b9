// GitLab Runner's signals: SIGINT/SIGTERM cancel running jobs and exit (a
// second one exits at once), SIGQUIT stops taking jobs and exits when the
// running ones have finished, SIGHUP reloads config.toml.
import type { Logger } from '../log/logger.ts';

export type StopMode = 'graceful' | 'cancel';

export interface SignalActions {
  /** The first stop signal, or a cancel after a graceful stop began. */
  stop(mode: StopMode, signal: string): void;
  /** A second cancel: stop everything now. */
  force(signal: string): void;
  reload(): void;
}

export function handleSignals(logger: Logger, actions: SignalActions): void {
  // Signal listeners alone do not keep the event loop alive: hold it until a stop begins.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  let mode: StopMode | undefined;
  const cancel = (signal: string): void => {
    clearInterval(keepAlive);
    if (mode === 'cancel') {
      logger.warn('Second stop signal: exiting at once', { signal });
      actions.force(signal);
      return;
    }
    mode = 'cancel';
    actions.stop('cancel', signal);
  };
  process.on('SIGINT', () => cancel('SIGINT'));
  process.on('SIGTERM', () => cancel('SIGTERM'));
  process.on('SIGQUIT', () => {
    if (mode !== undefined) return;
    clearInterval(keepAlive);
    mode = 'graceful';
    actions.stop('graceful', 'SIGQUIT');
  });
  process.on('SIGHUP', () => actions.reload());
}
