// The cache and artifact stages of the build sequence, done by the runner
// itself (GitLab Runner's shell executor runs its own binary as the helper;
// this runner is that helper): restore_cache and download_artifacts after
// get_sources, archive_cache[_on_failure] and upload_artifacts_on_* after
// the script, with GitLab's skips, titles, helper lines and failures.
//
// A stage with nothing to do is skipped without a section, as GitLab Runner
// skips it (ErrSkipBuildStage). A failed download or upload fails the stage
// (the helper's `FATAL:` line, `exit status 1`); a cache that cannot be
// extracted or created is only a warning, as in GitLab Runner.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { collectEntries } from '../artifacts/paths.ts';
import { extractZip } from '../artifacts/zip-reader.ts';
import { projectCacheDir } from '../cache/cache-path.ts';
import {
  archiveCaches,
  type CacheEntry,
  CachePolicyError,
  cachePolicyError,
  type LocalCacheContext,
  restoreCaches,
  shouldArchive,
} from '../cache/local-cache.ts';
import { type CacheLogLine, renderCacheLogLine } from '../cache/log-lines.ts';
import type { ArtifactSpec, DependencySpec, Job } from '../job/model.ts';
import type { BuildStage } from '../job/result.ts';
import type { ArtifactTransport, TransferLogEntry, TransferRecord } from '../job/transfer.ts';
import { ArchiveError, cacheArchiver, writeArtifactArchive } from './archive-files.ts';
import { expand } from './expand.ts';
import { renderHelperLine, runtimePlatformLine } from './helper-lines.ts';
import { listLookup, valueOf } from './job-variables.ts';
import { parseGoBool } from '../system/go-bool.ts';
import { ANSI } from './shell/writer.ts';
import type { BuildPlan } from './plan.ts';

/** What the stages need of the build: its log framing and where it records. */
export interface TransferFrame {
  readonly job: Job;
  readonly plan: BuildPlan;
  readonly transport: ArtifactTransport | undefined;
  /** The runner's cache_dir, absolute. */
  readonly cacheDir: string;
  enter(stage: BuildStage): void;
  leave(stage: BuildStage): void;
  /** Job output (masked, time-prefixed): the stage script's and the helper's lines. */
  output(text: string): void;
  readonly records: TransferRecord[];
  /** Aborts when the job must stop transferring (a forced stop, the runner's exit, the job's timeout). */
  readonly signal: AbortSignal;
  /** Who what the stages extract into the project belongs to (the job's user); undefined: the runner. */
  readonly fileOwner?: { readonly uid: number; readonly gid: number } | undefined;
}

/** How a stage ended: done (or skipped), or failed with GitLab's closing-line text. */
export type StageEnd =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly failure: string;
    readonly exitCode?: number | undefined;
    /** GitLab Runner fails before the stage's script runs (a runner_system_failure there). */
    readonly system?: boolean | undefined;
  };

const OK: StageEnd = { ok: true };
/** The helper exits 1 after its FATAL line: the stage's script fails with that status. */
const HELPER_FAILED: StageEnd = { ok: false, failure: 'exit status 1', exitCode: 1 };

const notice = (text: string): string => `${ANSI.boldGreen}${text}${ANSI.reset}\n`;
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const takesPart = (entry: { paths: readonly string[]; untracked: boolean }): boolean => entry.paths.length > 0 || entry.untracked;

/** The entries of an artifacts stage: `when` matching the job's outcome, with something to collect (writeUploadArtifacts). */
export function artifactsToUpload(artifacts: readonly ArtifactSpec[], succeeded: boolean): ArtifactSpec[] {
  return artifacts.filter((artifact) =>
    (succeeded ? artifact.when !== 'on_failure' : artifact.when !== 'on_success') &&
    (artifact.paths.length > 0 || artifact.exclude.length > 0 || artifact.untracked)
  );
}

/** The dependencies whose archives are downloaded (jobArtifacts): those with an artifacts file. */
export function dependenciesToDownload(dependencies: readonly DependencySpec[]): DependencySpec[] {
  return dependencies.filter((dependency) => dependency.artifactsFile !== undefined && dependency.artifactsFile.filename !== '');
}

export class TransferStages {
  private readonly lookup: (key: string) => string;

  constructor(private readonly frame: TransferFrame) {
    this.lookup = listLookup(frame.plan.variables, frame.plan.directories!.tempDir);
  }

  private get projectDir(): string {
    return this.frame.plan.directories!.projectDir;
  }

  private helperLine(entry: TransferLogEntry): void {
    this.frame.output(renderHelperLine(entry));
  }

  private cacheLines(lines: readonly CacheLogLine[]): void {
    for (const line of lines) {
      this.frame.output(renderCacheLogLine(line));
      // The helper starts (and prints its platform) after the notice that announces it.
      if (line.kind === 'notice' && /^(Checking cache for|Creating cache) /.test(line.text)) this.helperLine(runtimePlatformLine());
    }
  }

  private cacheContext(): LocalCacheContext {
    const { plan, job } = this.frame;
    const variables = plan.variables;
    return {
      expand: (text) => expand(text, this.lookup),
      value: (name) => valueOf(variables, name),
      jobName: job.name,
      ref: valueOf(variables, 'CI_COMMIT_REF_NAME') ?? '',
      hashKeys: plan.flags.flags.FF_HASH_CACHE_KEYS,
      cacheDir: projectCacheDir({
        cacheDir: this.frame.cacheDir,
        repositoryUrl: job.repository?.url,
        projectId: job.project?.id ?? 0,
        gitStrategyEmpty: plan.settings.gitStrategy === 'empty',
      }),
      projectDir: this.projectDir,
      cleanUpFailedExtract: plan.flags.flags.FF_CLEAN_UP_FAILED_CACHE_EXTRACT,
    };
  }

  private get cacheEntries(): CacheEntry[] {
    return [...(this.frame.job.cache ?? [])];
  }

  /** restore_cache; RESTORE_CACHE_ATTEMPTS is the caller's. */
  async restoreCache(): Promise<StageEnd> {
    if (!this.cacheEntries.some(takesPart)) return OK;
    const refused = cachePolicyError(this.cacheEntries, this.cacheContext(), { restore: true });
    if (refused !== undefined) return { ok: false, failure: refused.message, system: true };
    return this.inStage('restore_cache', async () => {
      const started = performance.now();
      const report = await restoreCaches(this.cacheEntries, this.cacheContext(), cacheArchiver(this.frame.fileOwner));
      this.cacheLines(report.lines);
      const seconds = (performance.now() - started) / 1000 / Math.max(1, report.entries.length);
      for (const entry of report.entries) {
        if (entry.outcome === 'skipped') continue;
        this.frame.records.push({
          kind: 'cache',
          direction: 'download',
          result: 'success',
          bytes: entry.bytes,
          seconds,
          cache: entry.outcome === 'hit' ? 'hit' : entry.outcome === 'fallback-hit' ? 'fallback_hit' : 'miss',
        });
      }
      return OK;
    });
  }

  /** archive_cache or archive_cache_on_failure, by the job's outcome so far. */
  async archiveCache(succeeded: boolean): Promise<StageEnd> {
    if (!this.cacheEntries.some((entry) => shouldArchive(entry.when, succeeded) && takesPart(entry))) return OK;
    const refused = cachePolicyError(this.cacheEntries, this.cacheContext(), { restore: false, jobSucceeded: succeeded });
    if (refused !== undefined) return { ok: false, failure: refused.message, system: true };
    return this.inStage(succeeded ? 'archive_cache' : 'archive_cache_on_failure', async () => {
      const started = performance.now();
      this.ignoredSettings('CACHE_COMPRESSION_LEVEL');
      this.ignoredSettings('CACHE_COMPRESSION_FORMAT');
      const report = await archiveCaches(this.cacheEntries, this.cacheContext(), cacheArchiver(), succeeded);
      this.cacheLines(report.lines);
      const seconds = (performance.now() - started) / 1000 / Math.max(1, report.entries.length);
      for (const entry of report.entries) {
        if (entry.outcome === 'skipped' || entry.outcome === 'no-files') continue;
        const failed = entry.outcome === 'failed';
        this.frame.records.push({
          kind: 'cache',
          direction: 'upload',
          result: failed ? 'failure' : 'success',
          bytes: entry.bytes,
          seconds,
          failure: failed ? 'archive' : undefined,
        });
      }
      return OK;
    });
  }

  /** download_artifacts: each dependency's archive downloaded and extracted into the project directory. */
  async downloadArtifacts(): Promise<StageEnd> {
    const dependencies = dependenciesToDownload(this.frame.job.dependencies ?? []);
    const transport = this.frame.transport;
    if (dependencies.length === 0 || transport === undefined) return OK;
    return this.inStage('download_artifacts', async () => {
      for (const dependency of dependencies) {
        if (!await this.downloadOne(transport, dependency)) return HELPER_FAILED;
      }
      return OK;
    });
  }

  private async downloadOne(transport: ArtifactTransport, dependency: DependencySpec): Promise<boolean> {
    this.frame.output(notice(`Downloading artifacts for ${dependency.name} (${dependency.id})...`));
    this.helperLine(runtimePlatformLine());
    const started = performance.now();
    const file = this.temporaryFile('artifacts');
    try {
      const preferences = { directDownload: this.frame.plan.flags.flags.FF_USE_DIRECT_DOWNLOAD };
      const report = await transport.download(dependency, file, preferences, (entry) => this.helperLine(entry), this.frame.signal);
      if (!report.ok) {
        this.record('download', started, 0, report.failure ?? 'network');
        return false;
      }
      try {
        await extractZip(file, this.projectDir, {
          onWarning: (text) => this.helperLine({ level: 'warning', message: text }),
          owner: this.frame.fileOwner,
        });
      } catch (error) {
        this.helperLine({ level: 'fatal', message: message(error) });
        this.record('download', started, report.bytes, 'archive');
        return false;
      }
      this.record('download', started, report.bytes);
      return true;
    } finally {
      await rm(file, { force: true });
    }
  }

  /** upload_artifacts_on_success or _on_failure: each matching entry archived and uploaded, the first failure ending the stage. */
  async uploadArtifacts(succeeded: boolean): Promise<StageEnd> {
    const artifacts = artifactsToUpload(this.frame.job.artifacts ?? [], succeeded);
    const transport = this.frame.transport;
    if (artifacts.length === 0 || transport === undefined) return OK;
    return this.inStage(succeeded ? 'upload_artifacts_on_success' : 'upload_artifacts_on_failure', async () => {
      for (const artifact of artifacts) {
        if (!await this.uploadOne(transport, artifact)) return HELPER_FAILED;
      }
      return OK;
    });
  }

  private async uploadOne(transport: ArtifactTransport, artifact: ArtifactSpec): Promise<boolean> {
    this.frame.output(notice('Uploading artifacts...'));
    this.helperLine(runtimePlatformLine());
    this.ignoredSettings('ARTIFACT_COMPRESSION_LEVEL');
    if (parseGoBool(valueOf(this.frame.plan.variables, 'RUNNER_GENERATE_ARTIFACTS_METADATA') ?? '') === true) {
      this.helperLine({ level: 'warning', message: 'RUNNER_GENERATE_ARTIFACTS_METADATA is not supported by this runner: no artifacts metadata is generated' });
    }
    const started = performance.now();
    // The helper expands the name and paths from its environment: the job's variables.
    const expandAll = (list: readonly string[]): string[] => list.map((text) => expand(text, this.lookup));
    const collected = await collectEntries({
      projectDir: this.projectDir,
      paths: expandAll(artifact.paths),
      exclude: expandAll(artifact.exclude),
      untracked: artifact.untracked,
    });
    for (const line of collected.log) this.helperLine({ level: line.level, message: line.message });
    if (collected.entries.length === 0) {
      this.helperLine({ level: 'error', message: 'No files to upload' });
      return true;
    }
    const file = this.temporaryFile('artifacts-upload');
    try {
      try {
        await writeArtifactArchive(collected.entries, artifact.format, this.projectDir, file, (text) => this.helperLine({ level: 'warning', message: text }));
      } catch (error) {
        this.helperLine({ level: 'fatal', message: error instanceof ArchiveError ? error.message : message(error) });
        this.record('upload', started, 0, 'archive');
        return false;
      }
      const name = artifact.name === undefined ? undefined : expand(artifact.name, this.lookup);
      const upload = { name, type: artifact.type, format: artifact.format, expireIn: artifact.expireIn };
      const report = await transport.upload(file, upload, (entry) => this.helperLine(entry), this.frame.signal);
      this.record('upload', started, report.ok ? report.bytes : 0, report.ok ? undefined : report.failure ?? 'network');
      return report.ok;
    } finally {
      await rm(file, { force: true });
    }
  }

  /** A compression setting the archives do not follow is said, never silently dropped. */
  private ignoredSettings(name: 'ARTIFACT_COMPRESSION_LEVEL' | 'CACHE_COMPRESSION_LEVEL' | 'CACHE_COMPRESSION_FORMAT'): void {
    const value = valueOf(this.frame.plan.variables, name) ?? '';
    const followed = name === 'CACHE_COMPRESSION_FORMAT' ? ['', 'zip'] : ['', 'default'];
    if (followed.includes(value)) return;
    this.helperLine({ level: 'warning', message: `${name}=${value} is not supported by this runner and is ignored: archives are zip, default compression` });
  }

  private record(direction: 'upload' | 'download', started: number, bytes: number, failure?: TransferRecord['failure']): void {
    this.frame.records.push({
      kind: 'artifact',
      direction,
      result: failure === undefined ? 'success' : 'failure',
      bytes,
      seconds: (performance.now() - started) / 1000,
      failure,
    });
  }

  /** A fresh name in the job's temporary directory (removed with it after the job). */
  private temporaryFile(prefix: string): string {
    return join(this.frame.plan.directories!.tempDir, `${prefix}-${randomBytes(6).toString('hex')}`);
  }

  /**
   * Runs a stage's work in its section. A cache policy GitLab Runner does
   * not know (checked before the section; here only if it changed) fails the
   * stage with its error; anything else the runner did not expect is its
   * helper's FATAL line and the stage's failure.
   */
  private async inStage(stage: BuildStage, work: () => Promise<StageEnd>): Promise<StageEnd> {
    this.frame.enter(stage);
    try {
      return await work();
    } catch (error) {
      if (error instanceof CachePolicyError) return { ok: false, failure: error.message, system: true };
      this.helperLine({ level: 'fatal', message: message(error) });
      return HELPER_FAILED;
    } finally {
      this.frame.leave(stage);
    }
  }
}
