// The job log as every part sees it: a sink that receives the log's bytes in
// order, and what became of them.

/**
 * Receives a job's log, in order. A chunk may be a view into a buffer the
 * caller reuses: copy what you keep beyond the call. May throw (a full disk):
 * the job goes on and its result says why its log was lost.
 */
export type LogSink = (chunk: Uint8Array) => void;

export interface LogStats {
  /** Bytes written by the job. */
  readonly receivedBytes: number;
  /** Masked bytes passed to the sink, the limit notice not included. */
  readonly writtenBytes: number;
  /** Masked bytes past the limit, consumed but not passed on. */
  readonly droppedBytes: number;
  /** Whether the limit was hit (and the notice written). */
  readonly truncated: boolean;
  /** Why the sink failed (a full disk): from then on the log is not passed on. */
  readonly sinkError: string | undefined;
}
