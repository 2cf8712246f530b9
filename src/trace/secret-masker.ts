// Masks secret values in a job's output, on bytes: an occurrence split across
// chunks (even inside a UTF-8 character) is found, and no byte is lost or
// duplicated.
//
// Semantics: every byte that belongs to an occurrence of a secret's raw UTF-8
// value is hidden. Each run of overlapping occurrences becomes one `[MASKED]`
// (with secrets "abc" and "cde", "abcde" gives "[MASKED]", so nothing of
// either leaks, and of secrets "pass" and "password" the longer one wins);
// occurrences that merely touch ("abcabc") give one `[MASKED]` each. Only the
// raw value is matched, not encodings of it (base64, URL or JSON escaping);
// empty secrets are ignored. The result does not depend on how the stream is
// cut into chunks.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { indexOfByte } from '../runtime/runtime.ts';

export const MASK = '[MASKED]';
const MASK_BYTES: Uint8Array = Buffer.from(MASK);
const EMPTY: Buffer = Buffer.alloc(0);

/** How common a byte is in typical logs: a secret is searched by its rarest byte. */
function commonness(byte: number): number {
  if (byte === 0x20 || byte === 0x0a || (byte >= 0x61 && byte <= 0x7a)) return 3; // space, newline, a-z
  if ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || '.,-/:_='.includes(String.fromCharCode(byte))) return 2;
  return 1;
}

/**
 * Replaces secrets in a byte stream cut into arbitrary chunks. Holds back at
 * most (longest secret length - 1) bytes between writes, flushed by end().
 * The sink receives subarrays of the written chunks (no copy) and the shared
 * `[MASKED]` bytes: it must not modify them, and must copy what it keeps if
 * the writer reuses its buffers.
 */
export class SecretMasker {
  /** Distinct secrets, longest first. */
  private readonly secrets: Buffer[];
  private readonly longest: number;
  /** isFirstByte[b] is 1 when some secret starts with byte b. */
  private readonly isFirstByte = new Uint8Array(256);
  /** Offset in each secret of the byte it is searched by. */
  private readonly anchors: Int32Array;
  /** Next occurrence of each secret in the current buffer, -1 when none. */
  private readonly next: Int32Array;
  private held: Buffer = EMPTY;
  /** Bytes at the start of `held` already covered by an emitted `[MASKED]`. */
  private heldMasked = 0;
  private ended = false;

  constructor(secrets: readonly string[], private readonly sink: LogSink) {
    const unique = new Set(secrets.filter((secret) => secret.length > 0));
    this.secrets = [...unique].map((secret) => Buffer.from(secret, 'utf8')).sort((a, b) => b.length - a.length);
    this.longest = this.secrets[0]?.length ?? 0;
    for (const secret of this.secrets) this.isFirstByte[secret[0] ?? 0] = 1;
    this.next = new Int32Array(this.secrets.length);
    this.anchors = Int32Array.from(this.secrets, (secret) => {
      let best = 0;
      for (let k = 1; k < secret.length; k++) if (commonness(secret[k]!) < commonness(secret[best]!)) best = k;
      return best;
    });
  }

  /** Bytes currently held back because they may start a secret. */
  get heldBytes(): number {
    return this.held.length;
  }

  write(chunk: Uint8Array): void {
    if (this.ended) throw new Error('SecretMasker: write after end');
    if (chunk.length === 0) return;
    if (this.longest === 0) {
      this.sink(chunk);
      return;
    }
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const held = this.held;
    if (held.length > 0) {
      this.held = EMPTY;
      if (buf.length < this.longest) {
        buf = Buffer.concat([held, buf]);
      } else {
        // Decide the held bytes on a small seam (they and the next longest - 1 bytes),
        // so a large chunk is never copied just to prepend a few bytes.
        this.scan(Buffer.concat([held, buf.subarray(0, this.longest - 1)]), held.length);
      }
    }
    const holdAt = this.earliestPartial(buf);
    this.scan(buf, holdAt);
    // Copied: the writer may reuse its chunk.
    if (holdAt < buf.length) this.held = Buffer.from(buf.subarray(holdAt));
  }

  /** Passes on what is held back: the stream the bytes came from has ended (a stage), so no secret can complete them. */
  flush(): void {
    const held = this.held;
    this.held = EMPTY;
    if (held.length > 0) this.scan(held, held.length);
    this.heldMasked = 0;
  }

  /** Flushes the held-back bytes: a secret's prefix at the end of the stream is not the secret. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const held = this.held;
    this.held = EMPTY;
    if (held.length > 0) this.scan(held, held.length);
  }

  /**
   * Passes on buf[0, holdAt) masked; occurrences starting before holdAt must
   * lie wholly in buf. Leaves in heldMasked how many bytes from holdAt on the
   * last [MASKED] already covers.
   */
  private scan(buf: Buffer, holdAt: number): void {
    const secrets = this.secrets;
    const next = this.next;
    // Bytes before runEnd are covered by the last emitted [MASKED]; bytes before emitFrom are done.
    let runEnd = this.heldMasked;
    let emitFrom = runEnd;
    for (let i = 0; i < secrets.length; i++) next[i] = this.find(buf, i, 0);
    for (;;) {
      let best = -1;
      let start = holdAt;
      for (let i = 0; i < secrets.length; i++) {
        const at = next[i]!;
        if (at >= 0 && at < start) {
          start = at;
          best = i;
        }
      }
      if (best < 0) break;
      const end = start + secrets[best]!.length;
      if (start >= runEnd) {
        if (start > emitFrom) this.sink(buf.subarray(emitFrom, start));
        this.sink(MASK_BYTES);
      }
      if (end > runEnd) runEnd = end;
      emitFrom = runEnd;
      next[best] = this.find(buf, best, start + 1);
    }
    if (emitFrom < holdAt) this.sink(buf.subarray(emitFrom, holdAt));
    this.heldMasked = Math.max(0, runEnd - holdAt);
  }

  /** Where secret i next occurs in buf from position `from`, -1 if nowhere. */
  private find(buf: Buffer, i: number, from: number): number {
    const secret = this.secrets[i]!;
    const anchor = this.anchors[i]!;
    const byte = secret[anchor]!;
    const last = buf.length - secret.length;
    for (let at = from + anchor;; at++) {
      at = indexOfByte(buf, byte, at);
      const start = at - anchor;
      if (at < 0 || start > last) return -1;
      let k = 0;
      while (k < secret.length && buf[start + k] === secret[k]) k++;
      if (k === secret.length) return start;
    }
  }

  /** The first position whose remaining bytes are a proper prefix of a secret, else buf.length. */
  private earliestPartial(buf: Buffer): number {
    const n = buf.length;
    for (let at = Math.max(0, n - this.longest + 1); at < n; at++) {
      if (this.isFirstByte[buf[at]!] === 0) continue;
      const remaining = n - at;
      for (const secret of this.secrets) {
        if (secret.length <= remaining) break; // longest first: the rest are complete here
        let k = 0;
        while (k < remaining && buf[at + k] === secret[k]) k++;
        if (k === remaining) return at;
      }
    }
    return n;
  }
}
