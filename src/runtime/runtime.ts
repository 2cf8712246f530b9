// The one place that knows which JavaScript runtime we are on. Everything
// runtime-specific is answered here so the rest of the code stays uniform.
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { type LoopDelaySampler, monitorDelaySampler, timerDriftSampler } from '../system/loop-delay.ts';

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
 * CPU profile sampling interval: Go's 100 Hz on every runtime. Bun 1.4.5's
 * JavaScriptCore takes about 55 samples in a busy second at 100 Hz (earlier
 * Bun took almost none, and the runner sampled Bun at 1 kHz, which cost a
 * fresh runner 1.39x CPU per scrape against 1.08x at 100 Hz). What each rate
 * costs: docs/profiling.md#what-a-running-profile-costs.
 */
const DEFAULT_CPU_SAMPLING_INTERVAL_MICROS = 10_000;

/**
 * RUNNER_PPROF_CPU_HZ overrides the rate, so bench/profiler-overhead can
 * measure what each rate costs; a bad value is reported and the default kept.
 */
function cpuSamplingInterval(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_CPU_SAMPLING_INTERVAL_MICROS;
  const hz = Number(raw);
  if (/^\d+$/.test(raw) && hz >= 1 && hz <= 10_000) return Math.round(1e6 / hz);
  process.stderr.write(
    `RUNNER_PPROF_CPU_HZ=${JSON.stringify(raw)} is not a whole number of samples per second from 1 to 10000: CPU profiles sample at the default ${
      1e6 / DEFAULT_CPU_SAMPLING_INTERVAL_MICROS
    } Hz\n`,
  );
  return DEFAULT_CPU_SAMPLING_INTERVAL_MICROS;
}

export const cpuSamplingIntervalMicros: number = cpuSamplingInterval(process.env['RUNNER_PPROF_CPU_HZ']);

/**
 * The fastest search for one byte, measured on 64 KiB: Node's Buffer method
 * (memchr, ~60 GB/s against ~3 GB/s for the TypedArray one); on Bun and Deno
 * the TypedArray method is the faster (Deno's Buffer.indexOf is JavaScript).
 */
const TYPED_INDEX_OF = Uint8Array.prototype.indexOf;

export const indexOfByte: (buf: Uint8Array, byte: number, from: number) => number = runtime.name === 'node'
  ? (buf, byte, from) => (Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)).indexOf(byte, from)
  // The TypedArray method called as such: a Buffer's own indexOf (the maskers pass Buffers) is Deno's JavaScript one,
  // 184 against 418 MB/s for the maskers' six searches of a 64 KiB chunk of log (issue 17).
  : (buf, byte, from) => TYPED_INDEX_OF.call(buf, byte, from);

/** Architecture as the runtime reports it (`x64`, `arm64`, ...). */
export const architecture: string = process.arch;

/** GOARCH-style names, as GitLab Runner reports its architecture (CI_RUNNER_EXECUTABLE_ARCH linux/amd64). */
export function goArch(arch: string): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    default:
      return arch;
  }
}

/** Operating system as the runtime reports it (`linux`, `darwin`, ...). */
export const operatingSystem: string = process.platform;

/**
 * The command line that runs a script file on this same runtime: Node needs
 * compiled JavaScript, Bun and Deno run the TypeScript source.
 */
export function scriptCommand(script: string): [string, ...string[]] {
  switch (runtime.name) {
    case 'deno':
      return [process.execPath, 'run', '-A', script];
    default:
      return [process.execPath, script];
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

// What each runtime can really measure about itself, checked by experiment on
// Node 20.20, Bun 1.4.5 and Deno 2.9.5 (docs/metrics.md, "What each runtime measures").
// Where a runtime answers with a stub (empty lists, zeros, one made-up
// figure), the reading is undefined here and its metrics are absent.

/** How often the event-loop delay is sampled, in milliseconds. */
const loopDelayResolutionMs: number = runtime.name === 'bun' ? 10 : 20;

/**
 * Starts sampling the event-loop delay, in windows from one scrape to the
 * next. Bun: perf_hooks' monitorEventLoopDelay every 10 ms. Deno: its
 * monitorEventLoopDelay missed 7 of 8 blocks of 200 ms in a test (maximum
 * under 2 ms). Node: its monitorEventLoopDelay loses the first interval
 * after each reset(), so a block that starts within 10 ms of a scrape (the
 * scrape's own rendering, say) was missed every time in a test. Both
 * therefore take a timer-drift probe every 20 ms: about 0.9% of a core on an
 * idle Node and 1% on an idle Deno, where Node's monitor every 10 ms costs
 * 0.7% and a probe every 10 ms 1.6-1.8%.
 */
export function startLoopDelaySampler(): LoopDelaySampler {
  return runtime.name === 'bun' ? monitorDelaySampler(loopDelayResolutionMs) : timerDriftSampler(loopDelayResolutionMs);
}

/** The JavaScript heap, in bytes. */
export interface HeapUsage {
  /** Size the heap has reserved; undefined where the runtime has no true figure (Bun). */
  readonly totalBytes: number | undefined;
  readonly usedBytes: number;
  /** Memory of objects outside the heap that the heap's objects hold (Buffers, ArrayBuffers). */
  readonly externalBytes: number;
}

/**
 * Node and Deno: v8.getHeapStatistics (2 us; the same figures as
 * process.memoryUsage without its RSS reading). Bun: there
 * v8.getHeapStatistics is emulated and costs 1-2 ms a call, and its total
 * equals its used; process.memoryUsage gives JavaScriptCore's used size
 * (which counts external memory too) and external size, but its heapTotal
 * lags and was seen below heapUsed (39 MiB against 96 MiB), so no total.
 */
export const heapUsage: () => HeapUsage = runtime.name === 'bun'
  ? () => {
    const memory = process.memoryUsage();
    return { totalBytes: undefined, usedBytes: memory.heapUsed, externalBytes: memory.external };
  }
  : () => {
    const heap = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory: number };
    return { totalBytes: heap.total_heap_size, usedBytes: heap.used_heap_size, externalBytes: heap.external_memory };
  };

export interface HeapSpace {
  /** V8's space name without its `_space` suffix: `new`, `old`, `code`, `large_object`, ... */
  readonly name: string;
  readonly sizeBytes: number;
  readonly usedBytes: number;
  readonly availableBytes: number;
}

/**
 * V8's heap spaces (Node, Deno). Bun emulates them: every byte in one
 * `old_space`, the others constant zeros, at 3-4 ms a call: absent there.
 */
export const heapSpaces: (() => HeapSpace[]) | undefined = runtime.name === 'bun' ? undefined : () =>
  getHeapSpaceStatistics().map((space) => ({
    name: space.space_name.replace(/_space$/, ''),
    sizeBytes: space.space_size,
    usedBytes: space.space_used_size,
    availableBytes: space.space_available_size,
  }));

interface NodeProcessInternals {
  _getActiveHandles(): unknown[];
  _getActiveRequests(): unknown[];
}

const internals = process as unknown as NodeProcessInternals;

function constructorNames(objects: readonly unknown[]): string[] {
  return objects.map((object) => (object as { constructor?: { name?: string } } | null)?.constructor?.name || 'unknown');
}

/**
 * Types of the resources that keep the event loop alive, one entry each
 * (process.getActiveResourcesInfo). Node: all of them. Deno: sockets,
 * servers, pipes and timers, but neither child processes nor requests in
 * flight. Bun: always an empty list, even with a server, a socket, a timer
 * and a child process open: absent.
 */
export const activeResourceTypes: (() => string[]) | undefined = runtime.name === 'bun' ? undefined : () => process.getActiveResourcesInfo();

/**
 * Class names of the active handles (process._getActiveHandles, as
 * prom-client counts them). Node: all; Deno: sockets and servers but not
 * child processes; Bun: always empty: absent.
 */
export const activeHandleTypes: (() => string[]) | undefined = runtime.name === 'bun' ? undefined : () => constructorNames(internals._getActiveHandles());

/**
 * Class names of the requests in flight (process._getActiveRequests). Only
 * Node fills it: Bun and Deno answer an empty list even with a file read and
 * a DNS lookup in flight.
 */
export const activeRequestTypes: (() => string[]) | undefined = runtime.name === 'node' ? () => constructorNames(internals._getActiveRequests()) : undefined;

/** prom-client's names for the kinds of garbage collection. */
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';

const GC_KINDS: ReadonlyMap<number, GcKind> = new Map(
  runtime.name === 'node'
    ? [
      [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
      [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
      [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
      [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
    ]
    : [],
);

/**
 * Calls `onGc` with the kind and duration of each garbage collection; returns
 * the function that stops it. Only Node delivers `gc` performance entries:
 * Deno accepts the observer and delivers nothing (none in 1 s of allocating
 * with forced collections), Bun does not know the entry type.
 */
export const observeGarbageCollection: ((onGc: (kind: GcKind, seconds: number) => void) => () => void) | undefined = runtime.name === 'node'
  ? (onGc) => {
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = GC_KINDS.get((entry as { detail?: { kind?: number } }).detail?.kind ?? -1);
        if (kind !== undefined) onGc(kind, entry.duration / 1000);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    return () => observer.disconnect();
  }
  : undefined;

/**
 * What the runtime's node:https server can do beyond serving TLS with a
 * certificate, requiring a client certificate from a CA and choosing the
 * TLS versions (which all three do). Measured with curl and openssl against
 * each: Bun's TLS sockets cannot show the peer's certificate (no
 * getPeerCertificate) and its server has no setSecureContext; Deno's TLS is
 * rustls, which ignores the cipher list and the curve list (it offered
 * ciphers not listed, and never P-521) and speaks TLS 1.2 and 1.3 only.
 */
export interface TlsServerAbilities {
  /** The client certificate can be read after the handshake (its SANs; whether one was sent at all). */
  readonly peerCertificate: boolean;
  /** The `ciphers` option limits the TLS 1.2 cipher suites. */
  readonly cipherSuites: boolean;
  /** The `ecdhCurve` option limits the key exchange groups. */
  readonly curvePreferences: boolean;
  /** TLS 1.0 and 1.1 can be served at all. */
  readonly legacyVersions: boolean;
  /** A listening server can take a new certificate for new connections (setSecureContext). */
  readonly swapCertificate: boolean;
}

export const tlsServerAbilities: TlsServerAbilities = {
  peerCertificate: runtime.name !== 'bun',
  cipherSuites: runtime.name !== 'deno',
  curvePreferences: runtime.name !== 'deno',
  legacyVersions: runtime.name !== 'deno',
  swapCertificate: runtime.name !== 'bun',
};

/**
 * Whether the runtime's node:http server needs a front that counts each
 * connection's requests before its parser (src/server/connection-front.ts).
 * Node and Deno parse every request a connection has already sent and call
 * the handler for each before they serve any other connection, and hand a
 * new connection to their HTTP layer through a `connection` listener
 * (`secureConnection` for HTTPS) that the front can sit before. Bun's
 * node:http is its own server, with no such listener for HTTPS, and under 10
 * connections x 2000 pipelined requests it answered another client within
 * tens of milliseconds without one (docs/benchmarks.md, "Pipelined scrapes
 * nobody reads"). RUNNER_CONNECTION_FRONT=off leaves it out, for the
 * benchmarks that measure its cost.
 */
export const httpConnectionFront: boolean = runtime.name !== 'bun' && process.env['RUNNER_CONNECTION_FRONT'] !== 'off';
