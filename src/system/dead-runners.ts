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
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { bootId, groupMembers, isProcessAlive, readProcStat } from './proc-stat.ts';
import { checkPrivateDirectory, RECORD_NAME, RECORD_VERSION, type RecordedGroup, selfOwner } from './process-record.ts';
import { groupAlive, signalGroup } from './process-group.ts';

export interface ReapReport {
  /** The dead owners (PID-STARTTIME) whose records were dealt with. */
  readonly owners: readonly string[];
  /** Process groups of theirs that still ran and were ended. */
  readonly groups: readonly number[];
  /** Paths of theirs that were removed (or were gone already). */
  readonly removed: readonly string[];
  /** What could not be done, one line each, naming the file or path. */
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

/** A record's contents as far as they can be trusted; undefined when it is not a record of this version. */
function parseRecord(text: string): { bootId: string; groups: RecordedGroup[]; paths: string[] } | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const { version, bootId, groups, paths } = data as Record<string, unknown>;
  if (version !== RECORD_VERSION || typeof bootId !== 'string' || !Array.isArray(groups) || !Array.isArray(paths)) return undefined;
  const isGroup = (g: unknown): g is RecordedGroup => {
    const { pgid, startTime, graceMs } = (g ?? {}) as Record<string, unknown>;
    return Number.isSafeInteger(pgid) && (pgid as number) > 1 && typeof startTime === 'string' && /^[0-9]+$/.test(startTime) &&
      typeof graceMs === 'number' && graceMs >= 0;
  };
  // Only whole absolute paths: a record never makes the runner remove `/` or a path relative to wherever it started.
  const isPath = (p: unknown): p is string => typeof p === 'string' && isAbsolute(p) && normalize(p) === p && p !== '/';
  return { bootId, groups: groups.filter(isGroup), paths: paths.filter(isPath) };
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
    let record: ReturnType<typeof parseRecord>;
    try {
      record = parseRecord(readFileSync(file, 'utf8'));
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
      if (match[3] === undefined) problems.push(`${file}: not a runner process record; removed`);
    } else {
      entry.groups.push(...record.groups);
      entry.paths.push(...record.paths);
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
