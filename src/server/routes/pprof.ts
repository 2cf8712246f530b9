// /debug/pprof/*: Go's net/http/pprof semantics (status codes, messages,
// headers) over the runner's own profilers.
// The encoders (pprof protobuf, the text forms) are loaded with the first profile that needs
// them: a runner nobody profiles never loads them (issue 17, start time and memory).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProfilerBusyError } from '../../profiling/cpu-profiler.ts';
import type { Profilers } from '../../profiling/profilers.ts';
import { ProfileGate } from '../profile-gate.ts';
import { send } from '../respond.ts';
import type { Route } from '../router.ts';
import { pprofIndexHtml } from './pprof-index.ts';

export const PPROF_PREFIX = '/debug/pprof/';
const DEFAULT_SECONDS = 30;

function pprofError(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  send(req, res, status, message + '\n', { 'X-Go-Pprof': '1' });
}

function sendProfile(req: IncomingMessage, res: ServerResponse, body: Uint8Array, filename: string): void {
  send(req, res, 200, body, { 'Content-Type': 'application/octet-stream', 'Content-Disposition': `attachment; filename="${filename}"` });
}

/** Go's strconv.Atoi as its handlers use it: anything unparsable is 0. */
function intParam(url: URL, name: string): number {
  const raw = url.searchParams.get(name) ?? '';
  const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : 0;
  return Number.isSafeInteger(value) ? value : 0;
}

/** The CPU profile's rule: a missing, non-numeric or non-positive value means 30. */
function cpuSeconds(url: URL): number {
  const value = intParam(url, 'seconds');
  return value > 0 ? value : DEFAULT_SECONDS;
}

/** A delta profile's rule: absent means our default window, present must be a positive integer. */
function deltaSeconds(url: URL): number | undefined {
  if (!url.searchParams.get('seconds')) return DEFAULT_SECONDS;
  const value = intParam(url, 'seconds');
  return value > 0 ? value : undefined;
}

/** Aborts when the client goes away before the answer is complete. */
function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function pprofRoutes(profilers: Profilers): Route[] {
  const tooLong = (seconds: number): string | undefined =>
    seconds > profilers.maxSeconds
      ? `profile duration ${seconds}s exceeds the maximum of ${profilers.maxSeconds}s (pprof_max_seconds in config.toml)`
      : undefined;

  async function cpu(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const seconds = cpuSeconds(url);
    const error = tooLong(seconds);
    if (error) return pprofError(req, res, 400, error);
    const signal = clientGone(res);
    try {
      const run = await profilers.cpu.profile(seconds, signal);
      if (signal.aborted) return;
      const { cpuProfileToPprof } = await import('../../profiling/cpu-pprof.ts');
      sendProfile(req, res, cpuProfileToPprof(run), 'profile');
    } catch (e) {
      if (e instanceof ProfilerBusyError) return pprofError(req, res, 500, e.message);
      throw e;
    }
  }

  const heapGate = new ProfileGate();

  async function heap(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.searchParams.get('seconds')) {
      return pprofError(req, res, 400, 'heap profiles have no time window here: use /debug/pprof/allocs?seconds=N for allocations over a window');
    }
    const source = profilers.heap;
    if (source.kind === 'none') return pprofError(req, res, 404, `Unknown profile: ${source.reason}`);
    const gate = heapGate.enter();
    if (!gate.open) {
      send(req, res, 503, 'a heap profile is being taken or was just taken: retry later\n', {
        'X-Go-Pprof': '1',
        'Retry-After': String(gate.retryAfterSeconds),
      });
      return;
    }
    try {
      await heapProfile(req, res, url);
    } finally {
      gate.release();
    }
  }

  async function heapProfile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const debug = intParam(url, 'debug') !== 0;
    const gc = intParam(url, 'gc') > 0;
    const source = profilers.heap;
    if (source.kind === 'none') return;
    if (source.kind === 'snapshot') {
      if (gc) source.collectGarbage?.();
      const { heapSummaryText, heapSummaryToPprof, summarizeHeapSnapshot } = await import('../../profiling/bun-heap.ts');
      const summary = summarizeHeapSnapshot(source.snapshot());
      if (debug) return send(req, res, 200, heapSummaryText(summary));
      return sendProfile(req, res, heapSummaryToPprof(summary, Date.now()), 'heap');
    }
    try {
      const sample = await source.sampler.inuse(gc);
      const { heapProfileText, heapProfileToPprof } = await import('../../profiling/heap-pprof.ts');
      if (debug) return send(req, res, 200, heapProfileText(sample, 'inuse'));
      sendProfile(req, res, heapProfileToPprof(sample, 'inuse'), 'heap');
    } catch (e) {
      if (e instanceof ProfilerBusyError) return pprofError(req, res, 503, e.message);
      throw e;
    }
  }

  async function allocs(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const source = profilers.heap;
    if (source.kind !== 'sampling') {
      return pprofError(
        req,
        res,
        501,
        "allocation profiles need V8's sampling heap profiler, which this runtime does not have; /debug/pprof/heap shows live objects by type",
      );
    }
    const debug = intParam(url, 'debug') !== 0;
    if (debug && url.searchParams.get('seconds')) return pprofError(req, res, 400, 'seconds and debug cannot be combined');
    const seconds = deltaSeconds(url);
    if (seconds === undefined) return pprofError(req, res, 400, 'invalid value for "seconds" - must be a positive integer');
    const error = tooLong(seconds);
    if (error) return pprofError(req, res, 400, error);
    const signal = clientGone(res);
    try {
      const sample = await source.sampler.allocs(seconds, signal);
      if (signal.aborted) return;
      const { heapProfileText, heapProfileToPprof } = await import('../../profiling/heap-pprof.ts');
      if (debug) return send(req, res, 200, heapProfileText(sample, 'alloc'));
      // Always a window, so named as Go names delta profiles.
      sendProfile(req, res, heapProfileToPprof(sample, 'alloc'), 'allocs-delta');
    } catch (e) {
      if (e instanceof ProfilerBusyError) return pprofError(req, res, 500, e.message);
      throw e;
    }
  }

  return [
    {
      path: '/debug/pprof',
      methods: ['GET'],
      handler: (req, res) => send(req, res, 301, '', { Location: PPROF_PREFIX }),
    },
    {
      path: PPROF_PREFIX,
      prefix: true,
      methods: ['GET'],
      handler: async (req, res, url) => {
        switch (url.pathname.slice(PPROF_PREFIX.length)) {
          case '':
            return send(req, res, 200, pprofIndexHtml(profilers.heap), { 'Content-Type': 'text/html; charset=utf-8' });
          case 'profile':
            return cpu(req, res, url);
          case 'heap':
            return heap(req, res, url);
          case 'allocs':
            return allocs(req, res, url);
          case 'cmdline':
            return send(req, res, 200, process.argv.join('\u0000'));
          default:
            return pprofError(req, res, 404, 'Unknown profile');
        }
      },
    },
  ];
}
