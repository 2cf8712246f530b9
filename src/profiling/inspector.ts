// One in-process inspector session shared by the CPU and heap profilers,
// with promise-returning calls and the protocol types we use.
import { Session } from 'node:inspector';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based, -1 when unknown. */
  readonly lineNumber: number;
  readonly columnNumber: number;
}

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
  /** This node's own samples by source line (1-based), where the profiler reports them. */
  readonly positionTicks?: ReadonlyArray<{ readonly line: number; readonly ticks: number }>;
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  /** Microseconds on the profiler's clock. */
  readonly startTime: number;
  readonly endTime: number;
  /** Node id of each sample, in order. */
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SamplingHeapProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly SamplingHeapProfileNode[];
}

export interface SamplingHeapProfile {
  readonly head: SamplingHeapProfileNode;
  /** One entry per sampled allocation still tracked. */
  readonly samples: ReadonlyArray<{ readonly size: number; readonly nodeId: number; readonly ordinal: number }>;
}

let shared: Session | undefined;

function session(): Session {
  if (!shared) {
    shared = new Session();
    shared.connect();
  }
  return shared;
}

/** Sends one inspector command; rejects with the protocol's error. */
export function post<T = unknown>(method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    // Deno does not count a pending inspector call as work: without a timer
    // the event loop could end while the answer is still on its way.
    const keepAlive = setInterval(() => undefined, 60_000);
    session().post(method, params, (error: Error | null, result?: object) => {
      clearInterval(keepAlive);
      if (error) reject(error);
      else resolve(result as T);
    });
  });
}
