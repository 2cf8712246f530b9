// Job ids of the local queue. An id names the job's files in the queue
// directory, so it uses only [0-9a-z-], and it is:
//
//   TTTTTTTTT-P-CCCCCC-RRRRRRRRRR     e.g. 0mwrea97y-h22-00002a-9c41e07fd2
//
//   T  submission time: milliseconds since 1970 in base 36, zero-padded to 9
//      characters (enough until the year 5188), so plain string order is
//      submission order
//   P  the submitting process's pid in base 36 (variable width)
//   C  a per-process counter in base 36, zero-padded to 6 characters; it only
//      ever increases (it wraps after 36^6, about 2.2 billion ids)
//   R  5 random bytes in hex, from the platform's cryptographic generator
//
// Unique across concurrent submitters: two processes running at the same
// time on one machine have different pids; within one process the counter
// tells ids apart even in the same millisecond; the random part covers what
// pids cannot, such as two containers (each its own pid 1) or two machines
// sharing one queue directory, and a pid reused within a millisecond.
//
// Sortable: ids compare as strings first by time (fixed width); ids made by
// one process also sort in the order they were made, since the time part
// never goes back within a process (a clock stepped back is held at the last
// time used) and the counter breaks ties. Ids from different processes in the
// same millisecond have no meaningful order among themselves.
import { pid } from 'node:process';

const TIME_WIDTH = 9;
const COUNTER_WIDTH = 6;
const COUNTER_LIMIT = 36 ** COUNTER_WIDTH;
const RANDOM_BYTES = 5;
/** The largest time the time part can hold (year 5188). */
const MAX_TIME = 36 ** TIME_WIDTH - 1;

/** Matches a job id and nothing else; a queue can use it to tell its files apart. */
export const JOB_ID_PATTERN = /^[0-9a-z]{9}-[0-9a-z]+-[0-9a-z]{6}-[0-9a-f]{10}$/;

let counter = 0;
let lastTime = 0;

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  return Array.from(buffer, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A new job id (format above). `now` (milliseconds since 1970) is the
 * submission time, by default the clock's, held at the last time used if the
 * clock stepped back; an explicit `now` is used as given.
 */
export function newJobId(now?: number): string {
  let time: number;
  if (now === undefined) {
    time = Math.max(Date.now(), lastTime);
    lastTime = time;
  } else {
    if (!Number.isSafeInteger(now) || now < 0 || now > MAX_TIME) {
      throw new RangeError(`job id time must be whole milliseconds from 0 to ${MAX_TIME}, got ${now}`);
    }
    time = now;
  }
  const count = counter;
  counter = (counter + 1) % COUNTER_LIMIT;
  return [
    time.toString(36).padStart(TIME_WIDTH, '0'),
    pid.toString(36),
    count.toString(36).padStart(COUNTER_WIDTH, '0'),
    randomHex(RANDOM_BYTES),
  ].join('-');
}

/** True if `text` is a job id as newJobId makes them. */
export function isJobId(text: string): boolean {
  return JOB_ID_PATTERN.test(text);
}

/** The submission time of a job id in milliseconds since 1970, or undefined if `id` is not a job id. */
export function jobIdTime(id: string): number | undefined {
  return isJobId(id) ? parseInt(id.slice(0, TIME_WIDTH), 36) : undefined;
}
