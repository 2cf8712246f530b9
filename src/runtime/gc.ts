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
