// The restore_cache and archive_cache stages for a local cache (no
// distributed cache server), deciding what GitLab Runner's shell executor
// decides: which entries take part (paths or untracked, `when` against the
// job's outcome, `policy`), which keys are tried in which order, where each
// archive is, and what the log says, in the words of shells/abstract.go
// (cacheExtractor, archiveCache) and of its helper commands
// (commands/helpers/cache_extractor.go, cache_archiver.go). The zipping
// itself is the injected archiver's.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { CacheSpec } from '../job/model.ts';
import { type CacheKey, type CacheKeyContext, type KeyResolution, resolveCacheKey, resolveFallbackKeys } from './cache-key.ts';
import { cacheArchivePath, cacheMetadataPath } from './cache-path.ts';
import { type CacheLogLine, helper, type HelperLine, notice, print, warning } from './log-lines.ts';

/** One `cache:` entry as the job has it (policy as sent: it may hold variables). */
export type CacheEntry = CacheSpec;

/** The files a cache entry names, as the archiver collects them (GitLab's fileArchiver.enumerate). */
export interface CollectedFiles {
  /** Paths relative to the project directory, files and directories. */
  readonly files: readonly string[];
  /** The newest modification time among them, in ms since the epoch (GitLab's isChanged compares the archive's with it). */
  readonly newestModifiedMs: number;
  /** The helper's lines about the matching (`PATH: found N matching artifact files and directories`, warnings). */
  readonly lines: readonly HelperLine[];
}

/** The zip side, injected: the cache module decides, this does the bytes. */
export interface CacheArchiver {
  collect(entry: { readonly paths: readonly string[]; readonly untracked: boolean }, projectDir: string): Promise<CollectedFiles>;
  /** Writes the archive of FILES to DEST (a fresh temporary file the caller renames). */
  createZip(files: readonly string[], projectDir: string, destPath: string): Promise<void>;
  /** Extracts ZIP into the project directory, with the helper's lines. */
  extractZip(zipPath: string, projectDir: string): Promise<{ readonly lines: readonly HelperLine[] }>;
}

/** A job's part in its cache stages. */
export interface LocalCacheContext extends CacheKeyContext {
  /** The job's cache directory (projectCacheDir); '' when cache_dir is unset. */
  readonly cacheDir: string;
  readonly projectDir: string;
  /** FF_CLEAN_UP_FAILED_CACHE_EXTRACT: remove the entry's paths after a failed extraction. Default off. */
  readonly cleanUpFailedExtract: boolean;
}

/** An unknown `policy` after expansion: GitLab Runner fails the stage's script with this. */
export class CachePolicyError extends Error {
  override name = 'CachePolicyError';
}

export type RestoreOutcome = 'hit' | 'fallback-hit' | 'miss' | 'skipped';
export type ArchiveOutcome = 'created' | 'up-to-date' | 'no-files' | 'failed' | 'skipped';

export interface RestoreEntryResult {
  /** The entry's own key as logged; undefined when it has none. */
  readonly key: string | undefined;
  readonly outcome: RestoreOutcome;
  /** The key whose archive was extracted. */
  readonly restoredKey?: string;
  /** Size of the archive extracted. */
  readonly bytes: number;
}

export interface ArchiveEntryResult {
  readonly key: string | undefined;
  readonly outcome: ArchiveOutcome;
  /** Size of the archive written, or of the one kept when up to date. */
  readonly bytes: number;
}

export interface StageReport<Entry> {
  /** No entry took part: GitLab skips the stage (ErrSkipBuildStage), no section in the log. */
  readonly skipStage: boolean;
  readonly lines: readonly CacheLogLine[];
  readonly entries: readonly Entry[];
}

const NO_URL_DOWNLOAD = 'No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted.';
const NO_URL_UPLOAD = 'No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally.';

interface KeyedArchive {
  readonly key: CacheKey;
  readonly archive: string;
  /** The other naming scheme's archive, when it stays inside the cache directory. */
  readonly alternate: string | undefined;
}

/** newCacheConfig: the cache directory first, then the key. */
function keyedArchive(context: LocalCacheContext, resolution: KeyResolution | undefined, userKey: string): KeyResolution & { archive?: KeyedArchive } {
  if (context.cacheDir === '') return { key: undefined, warning: undefined, error: 'unset cache directory' };
  const resolved = resolution ?? resolveCacheKey(context, userKey);
  if (resolved.key === undefined) return resolved;
  const alternate = cacheArchivePath(context.cacheDir, resolved.key.alternate);
  const inside = !relative(context.cacheDir, alternate).startsWith('..');
  return {
    ...resolved,
    archive: { key: resolved.key, archive: cacheArchivePath(context.cacheDir, resolved.key.storage), alternate: inside ? alternate : undefined },
  };
}

/** GitLab's Cache.CheckPolicy after expanding the policy: whether the stage's direction is wanted. */
function policyAllows(context: LocalCacheContext, entry: CacheEntry, wanted: 'pull' | 'push', key: string): boolean {
  const policy = context.expand(entry.policy);
  if (policy === '' || policy === 'pull-push') return true;
  if (policy === 'pull' || policy === 'push') return policy === wanted;
  throw new CachePolicyError(`unknown cache policy ${policy} for ${key}`);
}

/** GitLab's CacheWhen.ShouldCache: on_success (or none) and always after success, on_failure and always after failure. */
export function shouldArchive(when: string, jobSucceeded: boolean): boolean {
  if (jobSucceeded) return when === '' || when === 'on_success' || when === 'always';
  return when === 'on_failure' || when === 'always';
}

const takesPart = (entry: CacheEntry): boolean => entry.paths.length > 0 || entry.untracked;

/**
 * The error GitLab Runner meets writing a cache stage's script, before the
 * stage runs anything: the first taking-part entry (whose `when` fits, for
 * archiving) with a key and a policy it does not know.
 */
export function cachePolicyError(
  entries: readonly CacheEntry[],
  context: LocalCacheContext,
  stage: { readonly restore: true } | { readonly restore: false; readonly jobSucceeded: boolean },
): CachePolicyError | undefined {
  for (const entry of entries) {
    if (!takesPart(entry) || (!stage.restore && !shouldArchive(entry.when, stage.jobSucceeded))) continue;
    const keyed = keyedArchive(context, undefined, entry.key);
    if (keyed.archive === undefined) continue;
    try {
      policyAllows(context, entry, stage.restore ? 'pull' : 'push', keyed.archive.key.human);
    } catch (error) {
      if (error instanceof CachePolicyError) return error;
      throw error;
    }
  }
  return undefined;
}
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/** The restore_cache stage: each taking-part entry's key, then its fallbacks, until one extracts. */
export async function restoreCaches(
  entries: readonly CacheEntry[],
  context: LocalCacheContext,
  archiver: CacheArchiver,
): Promise<StageReport<RestoreEntryResult>> {
  const lines: CacheLogLine[] = [];
  const results: RestoreEntryResult[] = [];
  let skipStage = true;
  for (const entry of entries) {
    if (!takesPart(entry)) continue;
    skipStage = false;
    const primary = keyedArchive(context, undefined, entry.key);
    if (primary.warning !== undefined) lines.push(warning(primary.warning));
    if (primary.archive === undefined) {
      lines.push(notice(`Skipping cache extraction due to ${primary.error}`));
      results.push({ key: undefined, outcome: 'skipped', bytes: 0 });
      continue;
    }
    const human = primary.archive.key.human;
    if (!policyAllows(context, entry, 'pull', human)) {
      lines.push(notice(`Not downloading cache ${human} due to policy`));
      results.push({ key: human, outcome: 'skipped', bytes: 0 });
      continue;
    }
    const candidates: KeyedArchive[] = [primary.archive];
    for (const fallback of resolveFallbackKeys(context, entry.fallbackKeys)) {
      for (const text of fallback.checkWarnings) lines.push(warning(text));
      const keyed = keyedArchive(context, fallback, '');
      if (keyed.warning !== undefined) lines.push(warning(keyed.warning));
      if (keyed.error !== undefined) lines.push(notice(`Skipping cache extraction due to ${keyed.error}`));
      if (keyed.archive !== undefined) candidates.push(keyed.archive);
    }
    results.push(await extractFirst(entry, candidates, context, archiver, lines));
  }
  return { skipStage, lines, entries: results };
}

/** addExtractCacheCommand's chain: each key in turn, the next only when the one before failed. */
async function extractFirst(
  entry: CacheEntry,
  candidates: readonly KeyedArchive[],
  context: LocalCacheContext,
  archiver: CacheArchiver,
  lines: CacheLogLine[],
): Promise<RestoreEntryResult> {
  const key = candidates[0]!.key.human;
  for (const [index, candidate] of candidates.entries()) {
    lines.push(notice(`Checking cache for ${candidate.key.human}...`));
    lines.push(helper('info', NO_URL_DOWNLOAD));
    const bytes = await extractOne(candidate.archive, context.projectDir, archiver, lines);
    if (bytes !== undefined) {
      lines.push(notice('Successfully extracted cache'));
      return { key, outcome: index === 0 ? 'hit' : 'fallback-hit', restoredKey: candidate.key.human, bytes };
    }
    lines.push(warning('Failed to extract cache'));
    if (context.cleanUpFailedExtract) await removePaths(entry.paths, context.projectDir, lines);
  }
  return { key, outcome: 'miss', bytes: 0 };
}

/** The cache-extractor helper on a local file: the archive's size when it extracted, undefined when it failed. */
async function extractOne(archive: string, projectDir: string, archiver: CacheArchiver, lines: CacheLogLine[]): Promise<number | undefined> {
  let size: number;
  try {
    size = (await stat(archive)).size;
  } catch (error) {
    lines.push(isMissing(error) ? helper('warning', 'Cache file does not exist') : helper('fatal', message(error)));
    return undefined;
  }
  try {
    const extracted = await archiver.extractZip(archive, projectDir);
    lines.push(...extracted.lines);
    return size;
  } catch (error) {
    lines.push(helper('fatal', message(error)));
    return undefined;
  }
}

/** FF_CLEAN_UP_FAILED_CACHE_EXTRACT's `rm -r -f` of each path; a path leading out of the project is left alone. */
async function removePaths(paths: readonly string[], projectDir: string, lines: CacheLogLine[]): Promise<void> {
  for (const path of paths) {
    lines.push(print(`Removing ${path}`));
    const target = resolve(projectDir, path);
    const inside = relative(projectDir, target);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) continue;
    // The shell's `rm -r -f`: a failure is its own line, never the stage's.
    await rm(target, { recursive: true, force: true }).catch((error: unknown) => lines.push(print(`rm: cannot remove '${path}': ${message(error)}`)));
  }
}

/** The archive_cache stage (archive_cache or archive_cache_on_failure, by the job's outcome). */
export async function archiveCaches(
  entries: readonly CacheEntry[],
  context: LocalCacheContext,
  archiver: CacheArchiver,
  jobSucceeded: boolean,
): Promise<StageReport<ArchiveEntryResult>> {
  const lines: CacheLogLine[] = [];
  const results: ArchiveEntryResult[] = [];
  let skipStage = true;
  for (const entry of entries) {
    if (!shouldArchive(entry.when, jobSucceeded) || !takesPart(entry)) continue;
    skipStage = false;
    const keyed = keyedArchive(context, undefined, entry.key);
    if (keyed.warning !== undefined) lines.push(warning(keyed.warning));
    if (keyed.archive === undefined) {
      lines.push(notice(`Skipping cache archiving due to ${keyed.error}`));
      results.push({ key: undefined, outcome: 'skipped', bytes: 0 });
      continue;
    }
    const human = keyed.archive.key.human;
    if (!policyAllows(context, entry, 'push', human)) {
      lines.push(notice(`Not uploading cache ${human} due to policy`));
      results.push({ key: human, outcome: 'skipped', bytes: 0 });
      continue;
    }
    lines.push(notice(`Creating cache ${human}...`));
    const result = await createCache(entry, keyed.archive, context.projectDir, archiver, lines);
    lines.push(result.outcome === 'failed' ? warning('Failed to create cache') : notice('Created cache'));
    results.push({ key: human, ...result });
  }
  return { skipStage, lines, entries: results };
}

/** The cache-archiver helper on a local file. */
async function createCache(
  entry: CacheEntry,
  keyed: KeyedArchive,
  projectDir: string,
  archiver: CacheArchiver,
  lines: CacheLogLine[],
): Promise<{ outcome: Exclude<ArchiveOutcome, 'skipped'>; bytes: number }> {
  await takeOverAlternate(keyed, lines);
  let collected: CollectedFiles;
  try {
    collected = await archiver.collect({ paths: entry.paths, untracked: entry.untracked }, projectDir);
  } catch (error) {
    lines.push(helper('fatal', message(error)));
    return { outcome: 'failed', bytes: 0 };
  }
  lines.push(...collected.lines);
  if (collected.files.length === 0) {
    lines.push(helper('warning', 'No files to cache.'));
    return { outcome: 'no-files', bytes: 0 };
  }
  const existing = await stat(keyed.archive).catch((error: unknown) => {
    if (!isMissing(error)) lines.push(helper('warning', message(error)));
    return undefined;
  });
  if (existing !== undefined && existing.mtimeMs >= collected.newestModifiedMs) {
    // GitLab Runner (FF_HASH_CACHE_KEYS transition code) always has an alternate file, so an unchanged
    // archive goes down its "upload the existing archive" path, which, with no URL, only says so.
    lines.push(helper('info', 'Primary cache does not exist remotely, uploading existing archive'));
    lines.push(helper('info', NO_URL_UPLOAD));
    return { outcome: 'up-to-date', bytes: existing.size };
  }
  let bytes: number;
  try {
    bytes = await writeArchive(collected.files, projectDir, keyed.archive, archiver);
    await writeMetadata(keyed.archive, { cachekey: keyed.key.human });
  } catch (error) {
    lines.push(helper('fatal', message(error)));
    return { outcome: 'failed', bytes: 0 };
  }
  lines.push(helper('info', NO_URL_UPLOAD));
  return { outcome: 'created', bytes };
}

/** tryRenameAlternateFile: an archive under the other naming scheme becomes this key's when this key has none. */
async function takeOverAlternate(keyed: KeyedArchive, lines: CacheLogLine[]): Promise<void> {
  if (keyed.alternate === undefined || keyed.alternate === keyed.archive) return;
  try {
    await stat(keyed.archive);
    return;
  } catch (error) {
    if (!isMissing(error)) {
      lines.push(helper('warning', 'Failed to stat primary cache file'));
      return;
    }
  }
  if (!(await stat(keyed.alternate).then(() => true, () => false))) return;
  try {
    await mkdir(dirname(keyed.archive), { recursive: true, mode: 0o700 });
  } catch {
    lines.push(helper('warning', 'Failed to create directory for cache file rename'));
    return;
  }
  try {
    await rename(keyed.alternate, keyed.archive);
    lines.push(helper('info', 'Renamed alternate cache file to primary'));
  } catch {
    lines.push(helper('warning', 'Failed to rename alternate cache file to primary'));
  }
}

/** A fresh, exclusive temporary file beside TARGET (Go's os.CreateTemp(dir, PREFIX)). */
async function temporaryBeside(target: string, prefix: string): Promise<string> {
  for (;;) {
    const path = resolve(dirname(target), `${prefix}${randomBytes(8).toString('hex')}`);
    try {
      await (await open(path, 'wx', 0o600)).close();
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * createZipFile: the archive is written to a temporary file in the key's
 * directory and renamed over cache.zip only when complete, so a reader sees
 * the old archive or the new one, never half of one; of two jobs saving the
 * same key, the last to finish wins. Returns the archive's size.
 */
export async function writeArchive(files: readonly string[], projectDir: string, archive: string, archiver: CacheArchiver): Promise<number> {
  await mkdir(dirname(archive), { recursive: true, mode: 0o700 });
  const temporary = await temporaryBeside(archive, 'archive_');
  try {
    await archiver.createZip(files, projectDir, temporary);
    const { size } = await stat(temporary);
    await rename(temporary, archive);
    return size;
  } finally {
    await rm(temporary, { force: true });
  }
}

/** Go's json.Marshal of a string: JSON, with <, >, & and the line separators escaped. */
function goJsonString(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** writeCacheMetadataFile's metadata.json beside the archive (written whole through a rename, too). */
async function writeMetadata(archive: string, metadata: Readonly<Record<string, string>>): Promise<void> {
  const body = `{${
    Object.keys(metadata).sort().filter((key) => key !== '').map((key) => `${goJsonString(key.toLowerCase())}:${goJsonString(metadata[key]!)}`).join(',')
  }}`;
  const target = cacheMetadataPath(archive);
  const temporary = await temporaryBeside(target, 'metadata_');
  try {
    const handle = await open(temporary, 'w', 0o640);
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    throw new Error(`writing metadata file: ${message(error)}`, { cause: error });
  } finally {
    await rm(temporary, { force: true });
  }
}
