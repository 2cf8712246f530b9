// A job's containers share a cgroup parent of the job's own (HostConfig.CgroupParent),
// so that the kernel's totals count every container of the job - the build container
// across its restarts (one per stage) and the services - and outlive them: a
// container's own cgroup is gone the moment it stops, its parent's counters are
// not. Read on the runner's host under /sys/fs/cgroup, cgroup v1 (cpuacct.usage,
// memory.max_usage_in_bytes) or v2 (cpu.stat usage_usec, memory.peak). Only where
// the daemon places cgroups itself (the cgroupfs driver) and on this host; elsewhere
// (the systemd driver, a remote daemon) the figures are absent, never guessed.
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceUse } from '../../job/result.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';
/** Where the runner's job cgroups go, under the daemon's cgroup root. */
export const CGROUP_PARENT_ROOT = 'ci-runner';

function readNumber(path: string): number | undefined {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function readUsageMicros(path: string): number | undefined {
  try {
    const match = /^usage_usec (\d+)$/m.exec(readFileSync(path, 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

export class JobCgroup {
  /** The CgroupParent the job's containers get: /ci-runner/<name>. */
  readonly parent: string;

  constructor(name: string, private readonly root = CGROUP_ROOT) {
    this.parent = `/${CGROUP_PARENT_ROOT}/${name}`;
  }

  /** The job's figures, or undefined where this host cannot read them (see above). */
  read(): ResourceUse | undefined {
    const v1Cpu = readNumber(join(this.root, 'cpuacct', this.parent, 'cpuacct.usage'));
    const v1Memory = readNumber(join(this.root, 'memory', this.parent, 'memory.max_usage_in_bytes'));
    if (v1Cpu !== undefined && v1Memory !== undefined) return { cpuSeconds: v1Cpu / 1e9, peakRssBytes: v1Memory, measuredBy: 'cgroup' };
    const v2Cpu = readUsageMicros(join(this.root, this.parent, 'cpu.stat'));
    const v2Memory = readNumber(join(this.root, this.parent, 'memory.peak'));
    if (v2Cpu !== undefined && v2Memory !== undefined) return { cpuSeconds: v2Cpu / 1e6, peakRssBytes: v2Memory, measuredBy: 'cgroup' };
    return undefined;
  }

  /** Removes the job's cgroup directories (empty once its containers are gone); what cannot be removed stays. */
  remove(): void {
    for (const dir of cgroupDirs(this.root, this.parent)) {
      try {
        rmdirSync(dir);
      } catch {
        // busy or gone: the next sweep tries again
      }
    }
  }
}

/** Every directory of `parent` under the root: one per v1 controller, or the one of v2. */
function cgroupDirs(root: string, parent: string): string[] {
  const dirs = [join(root, parent)];
  try {
    for (const controller of readdirSync(root)) dirs.push(join(root, controller, parent));
  } catch {
    // no cgroup file system here
  }
  return dirs;
}

/** Removes the empty job cgroups a crashed runner left under /ci-runner whose names start with `prefix`. */
export function removeLeftoverCgroups(prefix: string, root = CGROUP_ROOT): void {
  for (const base of [join(root, CGROUP_PARENT_ROOT), ...safeList(root).map((controller) => join(root, controller, CGROUP_PARENT_ROOT))]) {
    for (const name of safeList(base)) {
      if (!name.startsWith(prefix)) continue;
      try {
        rmdirSync(join(base, name));
      } catch {
        // still in use, or not a directory
      }
    }
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
