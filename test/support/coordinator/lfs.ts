// Git LFS for the test coordinator, as GitLab serves it
// (Repositories::LfsApiController, LfsStorageController, the LfsRequest
// concern): the batch API at /<project>.git/info/lfs/objects/batch (download
// only: a job token cannot push) answering hrefs to
// /<project>.git/gitlab-lfs/objects/<oid>, which serve the bytes. Objects come
// from the project repository's own LFS store, <git dir>/lfs/objects/xx/yy/<oid>,
// where `git lfs` keeps them. Spec: git-lfs docs/api/batch.md.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { authorizeJobToken, type GitRepositories } from './git-http.ts';
import { isRecord, json, readBody, type Reply, send } from './http.ts';

/** LfsRequest::CONTENT_TYPE */
const LFS_JSON = 'application/vnd.git-lfs+json';
const OID = /^[0-9a-f]{64}$/;

const lfsJson = (status: number, value: unknown): Reply => json(status, value, { 'Content-Type': LFS_JSON });
// LfsRequest#render_lfs_not_found / #render_lfs_forbidden
const notFound = (base: string): Reply => lfsJson(404, { message: 'Not found.', documentation_url: `${base}/help` });
const forbidden = (base: string): Reply => lfsJson(403, { message: 'Access forbidden. Check your access level.', documentation_url: `${base}/help` });

/** Whether a path under /<project>.git is one of LFS's. */
export function isLfsPath(rest: string): boolean {
  return rest.startsWith('/info/lfs/') || rest.startsWith('/gitlab-lfs/');
}

/** Where `git lfs` keeps an object in a repository's git directory. */
export function lfsObjectPath(gitDir: string, oid: string): string {
  return join(gitDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
}

function hasObject(gitDir: string, oid: string): boolean {
  try {
    return OID.test(oid) && statSync(lfsObjectPath(gitDir, oid)).isFile();
  } catch {
    return false;
  }
}

/** Serves one LFS request; resolves to the status answered. */
export async function serveLfs(req: IncomingMessage, res: ServerResponse, repositories: GitRepositories, projectPath: string, rest: string): Promise<number> {
  const body = await readBody(req);
  const reply = (r: Reply): number => {
    send(res, r);
    return r.status;
  };
  const base = repositories.url;
  const access = authorizeJobToken(req, repositories, projectPath);
  if ('status' in access) return reply(access);
  const method = req.method ?? 'GET';

  if (method === 'POST' && rest === '/info/lfs/objects/batch') {
    let request: unknown;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch {
      return reply(lfsJson(400, { message: 'Invalid JSON' }));
    }
    const operation = isRecord(request) ? request['operation'] : undefined;
    // lfs_check_access!: a job token may download; an upload is refused as to
    // any reader of the project (403, not 401).
    if (operation !== 'download') return reply(forbidden(base));
    const objects = isRecord(request) && Array.isArray(request['objects']) ? request['objects'].filter(isRecord) : [];
    if (objects.length === 0) return reply(notFound(base));
    const href = `${base}/${access.project.fullPath}.git/gitlab-lfs/objects`;
    // LfsApiController#download_objects!: each object as sent, with a download
    // action or a 404 error. No `transfer` (basic is the default) and no
    // `authenticated` (only for projects anonymous users can read).
    const answered = objects.map((object) => {
      const oid = String(object['oid']);
      if (!hasObject(access.gitDir, oid)) {
        return { ...object, error: { code: 404, message: "Object does not exist on the server or you don't have permissions to access it" } };
      }
      const header = req.headers.authorization === undefined ? {} : { Authorization: req.headers.authorization };
      return { ...object, actions: { download: { href: `${href}/${oid}`, header } } };
    });
    return reply(lfsJson(200, { objects: answered }));
  }

  const download = method === 'GET' ? /^\/gitlab-lfs\/objects\/([^/]+)$/.exec(rest) : null;
  if (download) {
    // LfsStorageController#download: the bytes as application/octet-stream.
    const oid = download[1]!;
    if (!hasObject(access.gitDir, oid)) return reply(notFound(base));
    const path = lfsObjectPath(access.gitDir, oid);
    // setHeader, not writeHead's argument: only those show in getHeaders() for the record.
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(path).size));
    res.writeHead(200);
    await new Promise<void>((done) => {
      const stream = createReadStream(path);
      stream.on('error', () => {
        res.destroy();
        done();
      });
      res.on('finish', done);
      res.on('close', done);
      stream.pipe(res);
    });
    return 200;
  }
  return reply(notFound(base));
}
