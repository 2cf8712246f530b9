// What the zip writer does with yazl's entries once they are written, reaching into yazl's
// internals (its `entries` list and Entry records, pinned by yazl 3.3.1; the zip tests fail if a
// release changes them). If the layout is not the expected one, nothing is touched and yazl keeps
// its own pace and memory.
//
// - Pace: yazl looks for its next entry from the first one on every step, quadratic in the entry
//   count (a 30k-entry zip spent seconds there). Written entries are moved out of its list.
// - Memory: a written Entry is kept only for its central directory record, and costs several
//   hundred bytes in objects (the record, its name Buffer, its mtime Date, the pump closure that
//   holds the deflated data of an addBuffer entry). Its record is written at once into a block
//   of bytes instead, about 100 bytes an entry, and the Entry dropped. Before the central
//   directory is written, yazl gets stand-ins back in the written entries' places: one per block
//   hands yazl the block, the others an empty record, so yazl's count, offsets and zip64 choice
//   of the end record are those of the real entries.

import { Buffer } from 'node:buffer';

/** yazl's Entry.FILE_DATA_DONE: the entry's data and descriptor are written. */
const FILE_DATA_DONE = 3;
/** Central directory records are gathered into blocks of this size. */
const BLOCK = 64 * 1024;

/** What is read of yazl's ZipFile (not part of its API). */
interface YazlInternals {
  entries?: unknown;
}
/** What is read of yazl's Entry (not part of its API). */
interface YazlEntry {
  state?: unknown;
  getCentralDirectoryRecord?: unknown;
}
/** What yazl reads of an entry once every entry is written. */
interface StandIn {
  readonly state: number;
  getCentralDirectoryRecord(): Buffer;
}

const NOTHING = Buffer.alloc(0);
const EMPTY_RECORD: StandIn = { state: FILE_DATA_DONE, getCentralDirectoryRecord: () => NOTHING };

function isWritten(entry: unknown): boolean {
  const { state, getCentralDirectoryRecord } = entry as YazlEntry;
  return state === FILE_DATA_DONE && typeof getCentralDirectoryRecord === 'function';
}

/** A block's stand-in: hands yazl the records written into the block so far. */
interface BlockStandIn extends StandIn {
  length: number;
}

export class WrittenEntries {
  private readonly zip: YazlInternals;
  /** Stand-ins for the written entries, in order. */
  private readonly standIns: StandIn[] = [];
  private block: Buffer = Buffer.alloc(0);
  private current: BlockStandIn | undefined;
  /** Whether yazl's list is the expected one; if not, nothing is done. */
  readonly tracked: boolean;

  constructor(zip: object) {
    this.zip = zip as YazlInternals;
    this.tracked = Array.isArray(this.zip.entries);
  }

  /**
   * Takes the leading written entries out of yazl's list, keeping their records; answers how many
   * entries are left there (added, not yet written). On an unexpected layout, answers 0.
   */
  compact(): number {
    const list = this.zip.entries;
    if (!Array.isArray(list)) return 0;
    if (list.length > 0 && typeof (list[0] as YazlEntry).state !== 'number') return 0;
    let done = 0;
    while (done < list.length && isWritten(list[done])) done++;
    for (const entry of list.splice(0, done) as { getCentralDirectoryRecord(): Buffer }[]) {
      this.keep(entry.getCentralDirectoryRecord());
    }
    return list.length;
  }

  /** Puts the stand-ins back before the entries yazl still has, for its central directory. */
  restore(): void {
    if (Array.isArray(this.zip.entries) && this.standIns.length > 0) this.zip.entries = this.standIns.concat(this.zip.entries);
  }

  private keep(record: Buffer): void {
    let current = this.current;
    if (current === undefined || current.length + record.length > this.block.length) {
      const block = Buffer.allocUnsafe(Math.max(BLOCK, record.length));
      const standIn: BlockStandIn = { state: FILE_DATA_DONE, length: 0, getCentralDirectoryRecord: () => block.subarray(0, standIn.length) };
      this.block = block;
      this.current = current = standIn;
      this.standIns.push(standIn);
    } else {
      this.standIns.push(EMPTY_RECORD);
    }
    record.copy(this.block, current.length);
    current.length += record.length;
  }
}
