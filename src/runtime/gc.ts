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

/**
 * 8 MiB between two collections: 32 for a 256 MiB archive. Measured on a 1 GiB zip of 21,000
 * entries: Bun's peak RSS growth was 71 MiB at 32 MiB, 65 at 16, 57 at 8, in the same time.
 */
const NUDGE_EVERY = 8 * 1024 * 1024;
/**
 * What one archive entry leaves behind besides its bytes (stats, headers, promises, a small
 * file's read buffer): counted so that an archive of many small files is collected as often as
 * one of large files. Measured on 21,000 entries of 500 bytes (10 MiB): without it Deno's peak RSS
 * grew 134 MiB, with it 76.
 */
const ENTRY_GARBAGE = 16 * 1024;
/** V8's default --semi-space-growth-factor. */
const V8_SEMI_SPACE_GROWTH = 2;

interface BunCollection {
  gc?: (force: boolean) => void;
  /** JSC's VM::shrinkFootprintWhenIdle: drops compiled code not in use, collects fully, returns free malloc memory. */
  shrink?: () => void;
  /** Scales JavaScriptCore's tier-up thresholds; the Bun executable starts at more than 1 (deploy/package/bun-executable.ts). */
  unsafe?: { setJITPolicy?: (scale: number) => void };
}

/** The options of V8's exposed `gc` (its gc extension). */
interface V8GcOptions {
  readonly type: 'minor' | 'major';
  readonly execution?: 'sync' | 'async';
  /** 'last-resort': collect all available garbage, as V8 does under memory pressure. */
  readonly flavor?: 'regular' | 'last-resort';
}

let v8Gc: ((options: V8GcOptions) => void) | undefined | null = null;

/** V8's `gc`, looked up once, on first use (not at import: the flag is set only where it is needed). */
function exposedV8Gc(): ((options: V8GcOptions) => void) | undefined {
  if (v8Gc !== null) return v8Gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    v8Gc = typeof gc === 'function' ? gc as (options: V8GcOptions) => void : undefined;
  } catch {
    v8Gc = undefined;
  }
  return v8Gc;
}

function bunCollection(): BunCollection | undefined {
  return (globalThis as { Bun?: BunCollection }).Bun;
}

let collector: (() => void) | undefined | null = null;

/** The young-generation collection, looked up once, on first use. */
function youngCollector(): (() => void) | undefined {
  if (collector !== null) return collector;
  const bun = bunCollection();
  if (typeof bun?.gc === 'function') {
    collector = () => bun.gc!(true); // synchronous: a hint alone (false) freed little
    return collector;
  }
  const gc = exposedV8Gc();
  collector = gc === undefined ? undefined : () => gc({ type: 'minor' });
  return collector;
}

/**
 * Ends the start, once, a moment after the runner is ready: gives back what starting left behind
 * (module evaluation, the config's parse, code compiled for code that ran once), where that
 * lowers an idle runner's resident memory. Measured 3 s after the first scrape
 * (bench/startup.ts): Bun, Bun.shrink(), about -2.5 MiB; Deno, a last-resort full collection,
 * about -4 MiB. Not on Node: the same collection raised Node 20's RSS by 1.4 MiB (its heap does
 * not give pages back, and the collection's own bookkeeping stays). On Bun it also puts the JIT
 * back to its normal policy, which the Bun executable starts without (Bun's own advice for a
 * compiled executable's start). Returns what it did.
 */
export function releaseStartupGarbage(): 'shrunk' | 'collected' | undefined {
  // It only saves memory: a runtime that refuses any of it runs on as it was.
  try {
    if (runtime.name === 'bun') {
      const bun = bunCollection();
      bun?.unsafe?.setJITPolicy?.(1);
      if (typeof bun?.shrink !== 'function') return undefined;
      bun.shrink();
      return 'shrunk';
    }
    if (runtime.name !== 'deno') return undefined;
    const gc = exposedV8Gc();
    if (gc === undefined) return undefined;
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    return 'collected';
  } catch {
    return undefined;
  }
}

/** Counts the bytes a transfer moved and asks for a young-generation collection every 8 MiB. */
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

  /** One archive entry handled (collected, written or extracted). */
  addEntry(): void {
    this.add(ENTRY_GARBAGE);
  }

  add(bytes: number): void {
    if (this.off) return;
    this.since += bytes;
    if (this.since < NUDGE_EVERY) return;
    this.since = 0;
    youngCollector()?.();
  }
}

let steadyHolders = 0;

/**
 * Keeps Node's young generation at its size while a transfer runs, and returns what ends that.
 * V8 doubles the young generation (up to 2 x 16 MiB) once enough objects survived a scavenge,
 * and an archive's entries survive until its central directory is written: a 21,000-entry 1 GiB
 * zip grew it to 32 MiB, resident until the end. --semi-space-growth-factor is read each time
 * V8 grows the space, so it can be set at run time: 1 while any transfer runs, V8's 2 after.
 * Measured (bench/artifact-upload.ts): that zip's peak RSS growth went from 73 to 40 MiB, in the
 * same time. Node only: Deno's young generation stayed small without it (its growth lies
 * elsewhere), and Bun has no V8. Holders nest; each release counts once.
 */
export function holdYoungGeneration(): () => void {
  if (runtime.name !== 'node') return () => {};
  if (steadyHolders++ === 0) setSemiSpaceGrowth(1);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--steadyHolders === 0) setSemiSpaceGrowth(V8_SEMI_SPACE_GROWTH);
  };
}

function setSemiSpaceGrowth(factor: number): void {
  try {
    v8.setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  } catch {
    // A V8 that refuses the flag grows as it always did.
  }
}
