// Early young-generation garbage collection for code that streams large
// amounts of data through fresh Buffers (archives, artifact uploads and
// downloads). V8 collects on its own only after about 64 MiB of external
// (Buffer) memory since the last collection, so a large transfer otherwise
// ends with up to 64 MiB of dead chunks resident. Bun offers Bun.gc; Node and
// Deno offer V8's `gc` once --expose-gc is set at run time
// (v8.setFlagsFromString, as Jest does) and read from a fresh vm context -
// which then has a `gc` global, the one side effect. Where neither works,
// nothing is collected early.
import v8 from 'node:v8';
import vm from 'node:vm';
import { runtime } from './runtime.ts';

/** 16 MiB between two collections: 16 scavenges a 256 MiB archive. */
const NUDGE_EVERY = 16 * 1024 * 1024;

let collector: (() => void) | undefined | null = null;

/** The collection, looked up once, on first use (not at import: the flag is set only where it is needed). */
function youngCollector(): (() => void) | undefined {
  if (collector !== null) return collector;
  const bun = (globalThis as { Bun?: { gc?: (force: boolean) => void } }).Bun;
  if (typeof bun?.gc === 'function') {
    collector = () => bun.gc!(true); // synchronous: a hint alone (false) freed little
    return collector;
  }
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    collector = typeof gc === 'function' ? () => (gc as (options: { type: 'minor' }) => void)({ type: 'minor' }) : undefined;
  } catch {
    collector = undefined;
  }
  return collector;
}

/** Counts the bytes a transfer moved and asks for a young-generation collection every 16 MiB. */
export class GarbageNudge {
  private since = 0;
  private readonly off: boolean;

  /**
   * `onNode` false: not on Node. Measured on a 1 GiB download (bench/artifact-upload.ts), the
   * nudge costs Node 6 to 9 MiB of peak RSS, while Bun and Deno need it (without it their
   * growth went from 19 to 50 MiB and from 27 to 149 MiB).
   */
  constructor(options: { readonly onNode: boolean } = { onNode: true }) {
    this.off = !options.onNode && runtime.name === 'node';
  }

  add(bytes: number): void {
    if (this.off) return;
    this.since += bytes;
    if (this.since < NUDGE_EVERY) return;
    this.since = 0;
    youngCollector()?.();
  }
}
