// The one place that knows which JavaScript runtime we are on. Everything
// runtime-specific is answered here so the rest of the code stays uniform.

export type RuntimeName = 'node' | 'bun' | 'deno';

export interface RuntimeInfo {
  readonly name: RuntimeName;
  readonly version: string;
}

interface DenoGlobal {
  version: { deno: string };
}

function detect(): RuntimeInfo {
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (deno?.version?.deno) return { name: 'deno', version: deno.version.deno };
  const bun = (process.versions as Record<string, string | undefined>)['bun'];
  if (bun) return { name: 'bun', version: bun };
  return { name: 'node', version: process.versions.node };
}

export const runtime: RuntimeInfo = detect();

/**
 * CPU profile sampling interval. V8 (Node, Deno) samples at Go's 100 Hz:
 * 1 kHz cost 7-22% more CPU per request while a profile ran (bench/profiler-overhead).
 * JavaScriptCore (Bun) takes far fewer samples than asked at 100 Hz (4 in a
 * busy second, measured), so it keeps 1 kHz and its higher cost.
 */
export const cpuSamplingIntervalMicros: number = runtime.name === 'bun' ? 1_000 : 10_000;

/**
 * The fastest search for one byte, measured on 64 KiB: Node's Buffer method
 * (memchr, ~60 GB/s against ~3 GB/s for the TypedArray one); on Bun and Deno
 * the TypedArray method is the faster (Deno's Buffer.indexOf is JavaScript).
 */
export const indexOfByte: (buf: Uint8Array, byte: number, from: number) => number = runtime.name === 'node'
  ? (buf, byte, from) => (Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)).indexOf(byte, from)
  : (buf, byte, from) => buf.indexOf(byte, from);

/** Architecture as the runtime reports it (`x64`, `arm64`, ...). */
export const architecture: string = process.arch;

/** Operating system as the runtime reports it (`linux`, `darwin`, ...). */
export const operatingSystem: string = process.platform;

/**
 * The command line that runs a script file on this same runtime: Node needs
 * compiled JavaScript, Bun and Deno run the TypeScript source.
 */
export function scriptCommand(script: string): [string, ...string[]] {
  switch (runtime.name) {
    case 'deno': return [process.execPath, 'run', '-A', script];
    default: return [process.execPath, script];
  }
}

/** The extension of this runtime's own source files: `.ts` from source, `.js` when compiled. */
export function moduleExtension(moduleUrl: string): '.ts' | '.js' {
  return moduleUrl.endsWith('.ts') ? '.ts' : '.js';
}

interface BunGlobal {
  gc(force: boolean): void;
  generateHeapSnapshot(format: 'v8'): string;
}

const bunGlobal = (globalThis as { Bun?: BunGlobal }).Bun;

/**
 * A V8-format heap snapshot (JSON text) where the runtime can write one
 * without the inspector's HeapProfiler: Bun. Undefined elsewhere.
 */
export const heapSnapshot: (() => string) | undefined = bunGlobal ? () => bunGlobal.generateHeapSnapshot('v8') : undefined;

/** A full garbage collection where the runtime offers one outside the inspector (Bun). */
export const collectGarbage: (() => void) | undefined = bunGlobal ? () => bunGlobal.gc(true) : undefined;
