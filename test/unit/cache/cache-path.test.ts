// Where GitLab Runner keeps a local cache: cache_dir/GROUP/PROJECT[-empty]/KEY/cache.zip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cacheArchivePath, cacheMetadataPath, projectCacheDir, projectSlug } from '../../../src/cache/cache-path.ts';

test('the project part is the repository URL path without .git, as ProjectSlug makes it', () => {
  const cases: ReadonlyArray<readonly [string | undefined, string | undefined]> = [
    ['https://gitlab-ci-token:secret@gitlab.example.com/group/sub/project.git', '/group/sub/project'],
    ['https://gitlab.example.com/group/project', '/group/project'],
    ['https://gitlab.example.com/group/project.git/', '/group/project.git'],
    ['https://gitlab.example.com/group/my%20project.git', '/group/my project'],
    ['https://gitlab.example.com/a//b/./c.git', '/a/b/c'],
    ['https://gitlab.example.com/group/x..y.git', undefined],
    ['https://gitlab.example.com/a/../b.git', '/b'], // cleaned before the `..` check, as Go does
    ['https://gitlab.example.com', undefined],
    ['git@gitlab.example.com:group/project.git', undefined],
    ['/srv/repos/project.git', undefined],
    [undefined, undefined],
  ];
  for (const [url, slug] of cases) assert.equal(projectSlug(url), slug, String(url));
});

test('the cache directory: cache_dir, project path or project-ID, -empty for GIT_STRATEGY=empty', () => {
  const base = { cacheDir: '/home/gitlab-runner/cache', projectId: 42, gitStrategyEmpty: false };
  assert.equal(projectCacheDir({ ...base, repositoryUrl: 'https://h/group/project.git' }), '/home/gitlab-runner/cache/group/project');
  assert.equal(
    projectCacheDir({ ...base, repositoryUrl: 'https://h/group/project.git', gitStrategyEmpty: true }),
    '/home/gitlab-runner/cache/group/project-empty',
  );
  assert.equal(projectCacheDir({ ...base, repositoryUrl: undefined }), '/home/gitlab-runner/cache/project-42');
  assert.equal(projectCacheDir({ ...base, repositoryUrl: 'https://h/x..y.git', projectId: 0 }), '/home/gitlab-runner/cache/project-0');
  assert.equal(projectCacheDir({ ...base, repositoryUrl: 'https://h/../../x.git' }), '/home/gitlab-runner/cache/x');
});

test('each key has its own directory holding cache.zip and metadata.json', () => {
  const archive = cacheArchivePath('/c/group/project', 'build/main');
  assert.equal(archive, '/c/group/project/build/main/cache.zip');
  assert.equal(cacheMetadataPath(archive), '/c/group/project/build/main/metadata.json');
  assert.equal(cacheArchivePath('/c/p', '...'), '/c/p/.../cache.zip');
});
