// Keeps the web config in force current: read again on SIGHUP and when the
// config file or a file it names changes (polled, which also sees the
// symlink swaps Kubernetes and cert-manager rotate certificates with), so a
// new certificate or user list needs no restart. A file that fails to load
// keeps the previous config in force, and is logged and counted. The loader
// (and the YAML parser under it) is imported with the first file to load: a
// runner without a web config never loads it.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ServerTls } from './tls-options.ts';
import type { LoadedWebConfig } from './load-web-config.ts';
import { PLAIN_HTTP, type WebConfig } from './web-config.ts';

/** How often the files are looked at. */
export const WATCH_INTERVAL_MS = 2_000;

export interface WebConfigEvents {
  /** A new config is in force (its TLS settings are already applied). */
  readonly loaded: (loaded: LoadedWebConfig, why: string) => void;
  /** A new file could not be loaded or applied; the previous config stays. */
  readonly failed: (error: Error, why: string) => void;
}

/** Loads, reload counts and the outcome of the latest, for the metrics. */
export interface WebConfigStatus {
  readonly loads: number;
  readonly failures: number;
  readonly lastLoadSuccessful: boolean;
}

function fingerprint(files: readonly string[]): string {
  return files.map((file) => {
    try {
      const stat = statSync(file);
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
    } catch {
      return 'missing';
    }
  }).join('|');
}

export class WebConfigReloader implements WebConfigStatus {
  private current: LoadedWebConfig | undefined;
  private watched: { files: readonly string[]; fingerprint: string } = { files: [], fingerprint: '' };
  private timer: ReturnType<typeof setInterval> | undefined;
  private reloading: Promise<void> = Promise.resolve();
  loads = 0;
  failures = 0;
  lastLoadSuccessful = true;

  /**
   * `path`: the web config file (undefined: none); `apply` puts new TLS
   * settings into the server, and may fail (a port taken meanwhile).
   */
  constructor(
    private path: string | undefined,
    private readonly cwd: string,
    private readonly apply: (tls: ServerTls | undefined) => Promise<void>,
    private readonly events: WebConfigEvents,
  ) {}

  /** The first load, at start: a bad file is an error here (the caller refuses to start). */
  async loadFirst(): Promise<LoadedWebConfig | undefined> {
    this.current = this.path === undefined ? undefined : await loadWebConfigFile(this.path, this.cwd);
    if (this.current !== undefined) this.loads++;
    this.watch(this.current?.files ?? []);
    return this.current;
  }

  /** The config in force. */
  get config(): WebConfig {
    return this.current?.config ?? PLAIN_HTTP;
  }

  get serverTls(): ServerTls | undefined {
    return serverTlsOf(this.current);
  }

  /** Reads the file again (a new `path` when config.toml names another); runs after any reload under way. */
  reload(why: string, path: string | undefined = this.path): Promise<void> {
    this.reloading = this.reloading.then(() => this.reloadNow(why, path));
    return this.reloading;
  }

  /** Polls the files every WATCH_INTERVAL_MS; the timer does not keep the process alive. */
  startWatching(): void {
    this.timer ??= setInterval(() => {
      if (fingerprint(this.watched.files) !== this.watched.fingerprint) void this.reload('file changed');
    }, WATCH_INTERVAL_MS);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private watch(files: readonly string[]): void {
    this.watched = { files, fingerprint: fingerprint(files) };
  }

  private async reloadNow(why: string, path: string | undefined): Promise<void> {
    // Whatever the outcome, these files as they are now have been seen: a bad file is not retried until it changes again.
    const candidates = path === undefined ? [] : [...new Set([this.cwdPath(path), ...(this.current?.files ?? [])])];
    const seen = fingerprint(candidates);
    let next: LoadedWebConfig | undefined;
    try {
      next = path === undefined ? undefined : await loadWebConfigFile(path, this.cwd);
      const before = this.current;
      if (!sameTls(before, next)) await this.apply(serverTlsOf(next));
      this.current = next;
      this.path = path;
      this.loads++;
      this.lastLoadSuccessful = true;
      this.watch(next?.files ?? []);
      if (next !== undefined) this.events.loaded(next, why);
    } catch (error) {
      this.failures++;
      this.lastLoadSuccessful = false;
      this.watched = { files: candidates, fingerprint: seen };
      this.events.failed(error instanceof Error ? error : new Error(String(error)), why);
    }
  }

  private cwdPath(path: string): string {
    return resolve(this.cwd, path);
  }
}

/** load-web-config.ts's loadWebConfig, its module loaded on first use. */
export async function loadWebConfigFile(path: string, cwd: string): Promise<LoadedWebConfig> {
  const { loadWebConfig } = await import('./load-web-config.ts');
  return loadWebConfig(path, cwd);
}

function serverTlsOf(loaded: LoadedWebConfig | undefined): ServerTls | undefined {
  if (loaded?.config.tls === undefined || loaded.material === undefined) return undefined;
  return { config: loaded.config.tls, material: loaded.material };
}

function sameTls(a: LoadedWebConfig | undefined, b: LoadedWebConfig | undefined): boolean {
  return JSON.stringify(serverTlsOf(a) ?? null) === JSON.stringify(serverTlsOf(b) ?? null);
}
