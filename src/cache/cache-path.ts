// Where a local cache lives, as GitLab Runner lays it out: the runner's
// cache_dir, then the project's unique directory (the repository URL's path
// without `.git`, `project-ID` when the URL has none, `-empty` appended for
// GIT_STRATEGY=empty: common/build.go StartBuild, ProjectUniqueDir,
// ProjectSlug), then the key, then `cache.zip` (shells/abstract.go
// newCacheConfig). metadata.json sits beside the archive
// (commands/helpers/cache_metadata.go).
import { goPathClean, goPathJoin } from './go-text.ts';

/** What names a job's project directory under cache_dir. */
export interface ProjectCacheInput {
  /** The runner's cache_dir, absolute (the shell executor's default is `cache` under its working directory). */
  readonly cacheDir: string;
  /** The job's repository URL; undefined when it has none. */
  readonly repositoryUrl: string | undefined;
  /** GitLab's project id; 0 for a job of no project. */
  readonly projectId: number;
  /** GIT_STRATEGY is `empty`. */
  readonly gitStrategyEmpty: boolean;
}

/** Go's url.Parse, as far as ProjectSlug reads it: a host, and the path unescaped. */
function parseUrl(url: string): { host: string; path: string } | undefined {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)/.exec(url);
  if (match === null) return undefined;
  const host = match[1]!.replace(/^.*@/, '');
  try {
    return { host, path: decodeURIComponent(match[2]!) };
  } catch {
    return undefined;
  }
}

/** GitLab Runner's ProjectSlug: `/group/project` from the repository URL, or undefined where it errs. */
export function projectSlug(repositoryUrl: string | undefined): string | undefined {
  if (repositoryUrl === undefined) return undefined;
  const url = parseUrl(repositoryUrl);
  if (url === undefined || url.host === '') return undefined;
  const slug = goPathClean(url.path.replace(/\.git$/, ''));
  if (slug === '.' || slug.includes('..')) return undefined;
  return slug;
}

/** The job's cache directory (GitLab's build.CacheDir): cache_dir/GROUP/PROJECT[-empty]. */
export function projectCacheDir(input: ProjectCacheInput): string {
  let dir = projectSlug(input.repositoryUrl) ?? `project-${input.projectId}`;
  if (input.gitStrategyEmpty) dir += '-empty';
  return goPathJoin(input.cacheDir, dir);
}

/** The archive of one key: CACHE_DIR/KEY/cache.zip (the key is sanitized or hashed: it cannot climb out). */
export function cacheArchivePath(projectCacheDirectory: string, storageKey: string): string {
  return goPathJoin(projectCacheDirectory, storageKey, 'cache.zip');
}

/** GitLab Runner's metadata file beside an archive. */
export function cacheMetadataPath(archivePath: string): string {
  return goPathJoin(archivePath, '..', 'metadata.json');
}
