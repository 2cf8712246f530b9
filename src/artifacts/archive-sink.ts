// Where an archive writer writes: a file it opens itself, or a stream the caller gave it.

import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';

export interface ArchiveSink {
  readonly stream: Writable;
  /**
   * Waits until a file sink's descriptor is closed and, when the archive failed, removes the
   * partial file. A failed pipeline settles on its first error, which can come before the file is
   * even opened: without this wait the open still creates the file after the caller has gone on
   * (and removed its directory). A caller's stream is the caller's to clean up.
   */
  settle(failed: boolean): Promise<void>;
}

export function archiveSink(destination: string | Writable): ArchiveSink {
  if (typeof destination !== 'string') return { stream: destination, settle: () => Promise.resolve() };
  const stream = createWriteStream(destination);
  const closed = new Promise<void>((resolveClosed) => stream.once('close', () => resolveClosed()));
  return {
    stream,
    async settle(failed) {
      await closed;
      if (failed) await rm(destination, { force: true });
    },
  };
}
