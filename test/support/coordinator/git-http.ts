// Git over smart HTTP for the test coordinator, served by `git http-backend`
// as a CGI program, with GitLab's rules: job-token basic auth for a job the
// runner is processing, read-only. A job token reads any project the
// coordinator serves (GitLab: the projects its job token scope allows).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, join, resolve } from 'node:path';
import { CI_JOB_USER, rubyToI } from './gitlab-rules.ts';
import { type Reply, send, text } from './http.ts';
import type { Project } from './projects.ts';
import type { QueuedJob } from './queued-job.ts';

/** What git over HTTP needs of the coordinator. */
export interface GitRepositories {
  /** The coordinator's URL (Gitlab.config.gitlab.url). */
  readonly url: string;
  jobs(): Iterable<QueuedJob>;
  project(fullPath: string): Project | undefined;
  /** The http-backend processes running now (killed when the coordinator goes away). */
  readonly children: Set<ChildProcess>;
}

/** The git directory of a working tree or bare repository. */
function gitDirOf(repositoryPath: string): string {
  const dotGit = join(repositoryPath, '.git');
  return existsSync(dotGit) && statSync(dotGit).isDirectory() ? resolve(dotGit) : resolve(repositoryPath);
}

/**
 * Repositories::GitHttpClientController#authenticate_user for a private
 * project: Basic credentials `gitlab-ci-token:<job token>` of a job the runner
 * is processing (Ci::AuthJobFinder), else 401 with GitLab's Basic challenge
 * and text; then 404 for a project the coordinator does not serve.
 */
export function authorizeJobToken(req: IncomingMessage, repositories: GitRepositories, projectPath: string): { project: Project; gitDir: string } | Reply {
  const credentials = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const [user = '', password = ''] = credentials ? Buffer.from(credentials, 'base64').toString('utf8').split(/:(.*)/s) : [];
  const job = user === CI_JOB_USER ? [...repositories.jobs()].find((candidate) => candidate.token === password && candidate.processingOnRunner) : undefined;
  if (!job) {
    const help = `${repositories.url}/help/topics/git/troubleshooting_git.md#error-on-git-fetch-http-basic-access-denied`;
    return text(
      401,
      `HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password. If a token was provided, it was either incorrect, expired, or improperly scoped. See ${help}`,
      { 'WWW-Authenticate': 'Basic realm="GitLab"' },
    );
  }
  const project = repositories.project(projectPath);
  if (!project?.repository) return text(404, "The project you were looking for could not be found or you don't have permission to view it.\n");
  return { project, gitDir: gitDirOf(project.repository.path) };
}

export async function serveGit(
  req: IncomingMessage,
  res: ServerResponse,
  repositories: GitRepositories,
  projectPath: string,
  rest: string,
  queryString: string,
): Promise<number> {
  const reply = (r: Reply): number => {
    send(res, r);
    return r.status;
  };
  const access = authorizeJobToken(req, repositories, projectPath);
  if ('status' in access) {
    req.resume();
    return reply(access);
  }
  if (rest.endsWith('/git-receive-pack') || queryString.includes('service=git-receive-pack')) {
    req.resume();
    return reply(text(403, 'You are not allowed to upload code.\n'));
  }

  const gitDir = access.gitDir;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    GIT_PROJECT_ROOT: dirname(gitDir),
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${basename(gitDir)}${rest}`,
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: queryString,
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: CI_JOB_USER,
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    // Shallow fetches of a commit (`git fetch --depth 1 origin <sha>`) need
    // upload-pack to serve wants that are not ref tips.
    GIT_CONFIG_COUNT: '3',
    GIT_CONFIG_KEY_0: 'uploadpack.allowReachableSHA1InWant',
    GIT_CONFIG_VALUE_0: 'true',
    GIT_CONFIG_KEY_1: 'uploadpack.allowAnySHA1InWant',
    GIT_CONFIG_VALUE_1: 'true',
    GIT_CONFIG_KEY_2: 'http.receivepack',
    GIT_CONFIG_VALUE_2: 'false',
  };
  if (req.headers['content-length'] !== undefined) env['CONTENT_LENGTH'] = req.headers['content-length'];
  if (req.headers['content-encoding'] !== undefined) env['HTTP_CONTENT_ENCODING'] = req.headers['content-encoding'];
  if (typeof req.headers['git-protocol'] === 'string') env['GIT_PROTOCOL'] = req.headers['git-protocol'];

  const child = spawn(gitHttpBackend(), [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  repositories.children.add(child);
  child.on('close', () => repositories.children.delete(child));
  res.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  req.pipe(child.stdin!);
  child.stdin!.on('error', () => undefined);

  return new Promise((resolvePromise) => {
    let head = Buffer.alloc(0);
    let status = 200;
    let headersDone = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const end = crlf >= 0 ? crlf : head.indexOf('\n\n');
      if (end < 0) return;
      const separator = crlf >= 0 ? 4 : 2;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = rubyToI(value) || 200;
        else headers[name] = value;
      }
      headersDone = true;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.writeHead(status);
      res.write(head.subarray(end + separator));
    });
    child.on('close', (code) => {
      if (!headersDone) {
        status = 500;
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`git http-backend exited with ${code}\n`);
      } else {
        res.end();
      }
      resolvePromise(status);
    });
  });
}

let httpBackendPath: string | undefined;
/** $(git --exec-path)/git-http-backend */
function gitHttpBackend(): string {
  httpBackendPath ??= join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');
  return httpBackendPath;
}
