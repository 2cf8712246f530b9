// `needs` and `dependencies` of local jobs: which earlier jobs a job waits
// for, and whose artifacts it downloads.
//
// Waiting (NeedsGate, asked by claimNext before it claims a pending job): as
// GitLab starts a job only once its needs have ended, a pending job stays
// pending while a job it needs by id is pending or claimed, or while an
// earlier-submitted job of a name it needs is. Later jobs never block an
// earlier one, so two jobs needing each other cannot wait forever.
//
// Resolving (resolveDependencies, at claim time): the jobs of `dependencies`
// (or, without it, of `needs`) become the job's DependencySpec[]: by id, that
// done job; by name, the latest-submitted done job of that name that
// succeeded. A job that ended without artifacts gives a dependency without
// an archive (nothing to download, as GitLab skips such a dependency). A
// reference to no such job, or to a job whose artifacts expired or are gone,
// is a missing dependency: GitLab fails such a job before it runs
// (missing_dependency_failure), and so does the local source.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DependencySpec } from '../../job/model.ts';
import { type LocalJobDefinition, parseJobFile } from './job-file.ts';
import { isJobIdRef } from './job-file-transfer.ts';
import { artifactsPath, claimedDir, type DoneRecord, jobIdOfFile, readResult, recoveringDir } from './queue-files.ts';

/** The most done results looked at to find a job by name (newest first). */
export const NAME_SCAN_LIMIT = 2000;

/** A running job's definition (for its name); undefined when its file cannot be read. */
async function specOf(path: string): Promise<LocalJobDefinition | undefined> {
  try {
    return parseJobFile(await readFile(path, 'utf8'), path);
  } catch {
    return undefined;
  }
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/** One claimNext call's view of which jobs have not ended yet; built lazily, once. */
export class NeedsGate {
  /** Names of pending jobs looked at (and not claimed) before the current one, by id. */
  private readonly earlier: string[] = [];
  private running: Map<string, string> | undefined;

  constructor(private readonly queueDir: string) {}

  /** Whether the pending job `id` (its file read as `spec`) may start; a job whose file is no job (undefined) may: claiming it fails it. */
  async ready(id: string, spec: LocalJobDefinition | undefined): Promise<boolean> {
    if (!spec) return true;
    const refs = [...new Set([...(spec.needs ?? []), ...(spec.dependsOn ?? [])])];
    let ready = true;
    for (const ref of refs) {
      if (isJobIdRef(ref) ? await this.unfinished(ref) : await this.nameUnfinished(ref, id)) {
        ready = false;
        break;
      }
    }
    // Whether it is claimed here or not, a later job needing this name waits for it.
    this.earlier.push(spec.name);
    return ready;
  }

  private async unfinished(id: string): Promise<boolean> {
    const file = `${id}.toml`;
    if (await exists(join(this.queueDir, 'pending', file))) return true;
    for (const [runningId] of await this.runningJobs()) if (runningId === id) return true;
    return false;
  }

  private async nameUnfinished(name: string, id: string): Promise<boolean> {
    if (this.earlier.includes(name)) return true;
    for (const [runningId, runningName] of await this.runningJobs()) {
      if (runningName === name && runningId < id) return true;
    }
    return false;
  }

  /** Claimed and recovering jobs, id -> name. */
  private async runningJobs(): Promise<Map<string, string>> {
    if (this.running) return this.running;
    const running = new Map<string, string>();
    for (const parent of [claimedDir(this.queueDir), recoveringDir(this.queueDir)]) {
      for (const dir of await readdir(parent).catch(() => [])) {
        for (const file of await readdir(join(parent, dir)).catch(() => [])) {
          const id = jobIdOfFile(file);
          const spec = id && await specOf(join(parent, dir, file));
          if (id) running.set(id, spec ? spec.name : '');
        }
      }
    }
    this.running = running;
    return running;
  }
}

export type Resolution =
  | { readonly ok: true; readonly dependencies: DependencySpec[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Whether a done job's archive is still there: recorded, not expired, on disk
 * (at done/ID.artifacts.zip of this queue directory, wherever it was when the
 * result recorded its path).
 */
export async function archiveAvailable(queueDir: string, result: DoneRecord, now: Date): Promise<boolean> {
  const stored = result.artifacts;
  if (!stored) return false;
  if (stored.expires_at !== null && Date.parse(stored.expires_at) <= now.getTime()) return false;
  return exists(artifactsPath(queueDir, result.id));
}

async function latestSuccessNamed(queueDir: string, name: string): Promise<DoneRecord | undefined> {
  const ids = (await readdir(join(queueDir, 'done')).catch(() => []))
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort()
    .reverse()
    .slice(0, NAME_SCAN_LIMIT);
  for (const id of ids) {
    const result = await readResult(queueDir, id).catch(() => undefined);
    if (result?.name === name && result.state === 'success') return result;
  }
  return undefined;
}

/** The DependencySpec[] of a claimed job, or why a dependency is missing (one line). */
export async function resolveDependencies(queueDir: string, spec: LocalJobDefinition, now = new Date()): Promise<Resolution> {
  const refs = spec.dependsOn ?? spec.needs ?? [];
  const dependencies: DependencySpec[] = [];
  for (const ref of refs) {
    const byId = isJobIdRef(ref);
    const result = byId ? await readResult(queueDir, ref).catch(() => undefined) : await latestSuccessNamed(queueDir, ref);
    if (!result) {
      return {
        ok: false,
        reason: byId ? `job ${ref} has not ended in this queue (no done/${ref}.json)` : `no job named ${JSON.stringify(ref)} has succeeded in this queue`,
      };
    }
    const stored = result.artifacts;
    if (stored && !(await archiveAvailable(queueDir, result, now))) {
      return { ok: false, reason: `the artifacts of job ${result.id}${result.name === null ? '' : ` ${result.name}`} have expired or were removed` };
    }
    dependencies.push({
      id: result.id,
      name: result.name ?? ref,
      // The local queue needs no credentials.
      token: '',
      artifactsFile: stored ? { filename: basename(stored.path), size: stored.bytes } : undefined,
    });
  }
  return { ok: true, dependencies };
}
