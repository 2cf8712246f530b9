// Per-job resource use, sampled about once a second from /proc for the
// processes under a step's shell, plus the CPU of children they have already
// reaped. An approximation: processes that leave the tree (daemonize) escape
// it, and up to one interval before a step ends is not seen.
import type { ResourceUse } from '../../job/result.ts';
import { CLOCK_TICKS_PER_SECOND, readChildren, readProcStat, readRssBytes } from '../../system/proc-stat.ts';

export const RESOURCE_SAMPLE_INTERVAL_MS = 1_000;
/** A bound on the tree walk, so a fork bomb cannot make sampling unbounded. */
const MAX_PROCESSES = 4_096;

export class ResourceSampler {
  private finishedTicks = 0;
  private currentTicks = 0;
  private peakRss = 0;
  /** Whether any sample read a process's memory: a job too short for that has no peak, not a peak of 0. */
  private rssSampled = false;
  private leader: number | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  /** Starts sampling the process tree under `pid` (a step's shell). */
  track(pid: number): void {
    this.untrack();
    this.leader = pid;
    this.sample();
    this.timer = setInterval(() => this.sample(), RESOURCE_SAMPLE_INTERVAL_MS);
    this.timer.unref?.();
  }

  /** The step ended: keep what it used. */
  untrack(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.leader = undefined;
    this.finishedTicks += this.currentTicks;
    this.currentTicks = 0;
  }

  get use(): ResourceUse {
    return {
      cpuSeconds: (this.finishedTicks + this.currentTicks) / CLOCK_TICKS_PER_SECOND,
      peakRssBytes: this.rssSampled ? this.peakRss : undefined,
      measuredBy: 'sampled',
    };
  }

  private sample(): void {
    if (this.leader === undefined) return;
    let ticks = 0;
    let rss = 0;
    const pending = [this.leader];
    for (let seen = 0; pending.length > 0 && seen < MAX_PROCESSES; seen++) {
      const pid = pending.pop()!;
      const stat = readProcStat(pid);
      if (!stat) continue;
      // Each process's own CPU plus that of the children it reaped: every CPU second is counted once.
      ticks += stat.cpuTicks;
      const resident = readRssBytes(pid);
      // A zombie (exited, not yet reaped) has a stat but no memory.
      if (resident !== undefined && resident > 0) {
        rss += resident;
        this.rssSampled = true;
      }
      pending.push(...readChildren(pid));
    }
    // CPU only grows; a sample taken while a process was being reaped may miss it for a moment.
    this.currentTicks = Math.max(this.currentTicks, ticks);
    this.peakRss = Math.max(this.peakRss, rss);
  }
}
