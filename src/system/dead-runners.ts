// What a dead runner process left, dealt with by the next runner that starts
// with the same records directory (process-record.ts): for each record whose
// owner is dead (its pid gone, a zombie, showing another start time, or the
// record is of another boot), its process groups that still run are ended
// (SIGTERM, SIGKILL after their grace period) and its temporary paths are
// removed; then the record goes. A live runner's record is never read, let
// alone acted on, and this process's own is skipped.
//
// Two runners starting at once may both act on one dead record: every step
// (a signal to a group verified as the dead runner's, a forced removal) is
// harmless done twice, so no claim is needed.
//
// A group is the dead runner's only while it can be shown: its leader runs
// with the recorded start time, or, the leader gone, the group's members
// started no earlier than it did (a pid is not reused while it names a group
// with members, so a leader pid showing another start time means the group
// is empty). Without /proc nothing is signalled: the watchdogs
// (group-watchdog.ts) had their chance.
//
// A record is a journal (PID-STARTTIME.jsonl), replayed line by line: a torn
// last line (its owner died, or the machine lost power, in the middle of a
// write) and a line that is no entry are ignored and named among the
// problems, which the start logs. The records of runners from before the
// journal (version 1: PID-STARTTIME.json, one JSON object) are read too, so
// an upgrade leaves no dead runner's leftovers behind.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { bootId, groupMembers, isProcessAlive, readProcStat } from './proc-stat.ts';
import { checkPrivateDirectory, RECORD_NAME, RECORD_VERSION, RECORD_VERSION_1, type RecordedGroup, type RecordEntry, selfOwner } from './process-record.ts';
import { groupAlive, signalGroup } from './process-group.ts';

export interface ReapReport {
  /** The dead owners (PID-STARTTIME) whose records were dealt with. */
  readonly owners: readonly string[];
  /** Process groups of theirs that still ran and were ended. */
  readonly groups: readonly number[];
  /** Paths of theirs that were removed (or were gone already). */
  readonly removed: readonly string[];
  /** What could not be done, or was ignored in a record, one line each, naming the file or path. */
  readonly problems: readonly string[];
}

const POLL_MS = 100;

/** Testing seams: whether an owner still runs, this boot's id. */
export interface ReapOptions {
  readonly isAlive?: (pid: number, startTime: string) => boolean;
  readonly bootId?: string | undefined;
}

function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

/** What a record says its dead owner left, as far as it can be trusted, and what in it was ignored. */
export interface ReplayedRecord {
  readonly bootId: string;
  readonly groups: readonly RecordedGroup[];
  readonly paths: readonly string[];
  /** Lines ignored (a torn last line, a line that is not an entry), one sentence each. */
  readonly notes: readonly string[];
}

function parseObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return asObject(value);
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
}

/** A group's fields when they have the right types (whether they can be trusted is isGroup's question). */
function groupOf(value: Record<string, unknown> | undefined): RecordedGroup | undefined {
  const { pgid, startTime, graceMs } = value ?? {};
  return typeof pgid === 'number' && typeof startTime === 'string' && typeof graceMs === 'number' ? { pgid, startTime, graceMs } : undefined;
}

/** A journal line's change, or undefined when the line is not one. */
function parseEntry(line: string): RecordEntry | undefined {
  const entry = parseObject(line);
  const op = entry?.['op'];
  if (op === '+group') {
    const group = groupOf(entry);
    return group && { op, ...group };
  }
  if (op === '-group') return typeof entry?.['pgid'] === 'number' ? { op, pgid: entry['pgid'] } : undefined;
  if (op === '+path' || op === '-path') return typeof entry?.['path'] === 'string' ? { op, path: entry['path'] } : undefined;
  return undefined;
}

function isGroup(group: RecordedGroup): boolean {
  const { pgid, startTime, graceMs } = group;
  return Number.isSafeInteger(pgid) && pgid > 1 && /^[0-9]+$/.test(startTime) && graceMs >= 0;
}

// Only whole absolute paths: a record never makes the runner remove `/` or a path relative to wherever it started.
const isPath = (path: string): boolean => isAbsolute(path) && normalize(path) === path && path !== '/';

/**
 * What a record file's text says its owner left: a journal (version 2,
 * process-record.ts) replayed line by line - a torn last line, or a line
 * that is no entry, is ignored and named in `notes` - or a version-1 record
 * (one JSON object). Undefined when the text has no header of either.
 */
export function replayRecord(text: string): ReplayedRecord | undefined {
  const end = text.indexOf('\n');
  const header = parseObject(end < 0 ? text : text.slice(0, end));
  const bootId = header?.['bootId'];
  if (header === undefined || typeof bootId !== 'string') return undefined;
  let groups: RecordedGroup[];
  let paths: string[];
  const notes: string[] = [];
  if (header['version'] === RECORD_VERSION_1) {
    if (!Array.isArray(header['groups']) || !Array.isArray(header['paths'])) return undefined;
    groups = header['groups'].flatMap((group: unknown) => groupOf(asObject(group)) ?? []);
    paths = header['paths'].filter((path: unknown): path is string => typeof path === 'string');
  } else if (header['version'] === RECORD_VERSION && end >= 0) {
    const live = { groups: new Map<number, RecordedGroup>(), paths: new Set<string>() };
    const lines = text.slice(end + 1).split('\n');
    // After the last newline: '' when the last write was whole.
    if (lines.pop() !== '') notes.push('its last line was cut short (the process died while writing it): ignored');
    const bad: number[] = [];
    lines.forEach((line, index) => {
      const entry = parseEntry(line);
      if (entry === undefined) bad.push(index + 2);
      else if (entry.op === '+group') live.groups.set(entry.pgid, { pgid: entry.pgid, startTime: entry.startTime, graceMs: entry.graceMs });
      else if (entry.op === '-group') live.groups.delete(entry.pgid);
      else if (entry.op === '+path') live.paths.add(entry.path);
      else live.paths.delete(entry.path);
    });
    if (bad.length > 0) notes.push(`${bad.length === 1 ? 'line' : `${bad.length} lines, the first`} ${bad[0]}, not a record entry: ignored`);
    groups = [...live.groups.values()];
    paths = [...live.paths];
  } else {
    return undefined;
  }
  return { bootId, groups: groups.filter(isGroup), paths: paths.filter(isPath), notes };
}

/** Whether the group can be shown to be the one recorded (see the top of the file). */
function stillTheirs(group: RecordedGroup): boolean {
  const leader = readProcStat(group.pgid);
  if (leader === null) return false;
  if (leader !== undefined) return leader.startTime === group.startTime;
  const members = groupMembers(group.pgid) ?? [];
  return members.length > 0 && members.every((member) => BigInt(member.startTime) >= BigInt(group.startTime));
}

/** Ends the groups that are still the dead runners': SIGTERM, then SIGKILL to what is left after the longest grace period. */
async function endGroups(groups: readonly RecordedGroup[]): Promise<number[]> {
  const theirs = groups.filter(stillTheirs);
  for (const group of theirs) signalGroup(group.pgid, 'SIGTERM');
  const deadline = performance.now() + Math.max(0, ...theirs.map((group) => group.graceMs));
  while (theirs.some((group) => groupAlive(group.pgid)) && performance.now() < deadline) await delay(POLL_MS);
  for (const group of theirs) if (groupAlive(group.pgid) && stillTheirs(group)) signalGroup(group.pgid, 'SIGKILL');
  return theirs.map((group) => group.pgid);
}

/**
 * Deals with the records of dead runner processes in `dir` (see above);
 * resolves with what was done. A missing directory has nothing to deal with;
 * one that is not this user's private directory is left alone (a problem).
 */
export async function reapDeadRunners(dir: string, options: ReapOptions = {}): Promise<ReapReport> {
  const isAlive = options.isAlive ?? isProcessAlive;
  const boot = 'bootId' in options ? options.bootId : bootId();
  const problems: string[] = [];
  let names: string[];
  try {
    checkPrivateDirectory(dir);
    names = readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { owners: [], groups: [], removed: [], problems };
    return { owners: [], groups: [], removed: [], problems: [`${dir}: ${describe(error)}`] };
  }
  const self = selfOwner();
  // Owner -> its record files (the record, and the one a write cut short).
  const dead = new Map<string, { files: string[]; sameBoot: boolean; groups: RecordedGroup[]; paths: string[] }>();
  for (const name of names) {
    const match = RECORD_NAME.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    const startTime = match[2]!;
    if (pid === self.pid && startTime === self.startTime) continue;
    const file = join(dir, name);
    let record: ReplayedRecord | undefined;
    try {
      record = replayRecord(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push(`${file}: ${describe(error)}`);
      continue;
    }
    // A record of another boot names pids that mean nothing now; its owner is gone whatever /proc says.
    const sameBoot = record === undefined || record.bootId === '' || boot === undefined || record.bootId === boot;
    if (sameBoot && isAlive(pid, startTime)) continue;
    const owner = `${pid}-${startTime}`;
    const entry = dead.get(owner) ?? { files: [], sameBoot, groups: [], paths: [] };
    entry.files.push(file);
    if (record === undefined) {
      // A write cut short, or not a record: nothing in it can be acted on.
      if (match[4] === undefined) problems.push(`${file}: not a runner process record; removed`);
    } else {
      entry.groups.push(...record.groups);
      entry.paths.push(...record.paths);
      // A temporary file is a whole rewrite cut short: its end is expected to be missing.
      if (match[4] === undefined) { for (const note of record.notes) problems.push(`${file}: ${note}`); }
    }
    dead.set(owner, entry);
  }

  const groups = await endGroups([...dead.values()].filter((entry) => entry.sameBoot).flatMap((entry) => entry.groups));
  const removed: string[] = [];
  for (const path of new Set([...dead.values()].flatMap((entry) => entry.paths))) {
    try {
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch (error) {
      problems.push(`${path}: ${describe(error)}`);
    }
  }
  for (const entry of dead.values()) for (const file of entry.files) rmSync(file, { force: true });
  return { owners: [...dead.keys()], groups, removed, problems };
}
