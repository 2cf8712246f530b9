// The projects a test coordinator serves: their ids, their namespaces' ids, and
// the repository each is served from as /<full path>.git.
import { basename, resolve } from 'node:path';
import { slugify } from './gitlab-rules.ts';
import type { GitRepository, JobSpec } from './types.ts';

export interface Project {
  readonly id: number;
  /** The id of the project's namespace (CI_PROJECT_NAMESPACE_ID, job_info.namespace_id): one per namespace path. */
  readonly namespaceId: number;
  /** The id of its top-level group (job_info.root_namespace_id). */
  readonly rootNamespaceId: number;
  readonly fullPath: string;
  /** The latest repository given for the project (a later job may run a later commit). */
  repository: GitRepository | undefined;
}

export class Projects {
  private readonly byPath = new Map<string, Project>();
  private readonly namespaces = new Map<string, number>();
  private nextId = 1;

  get(fullPath: string): Project | undefined {
    return this.byPath.get(fullPath);
  }

  /** The project a job runs in: spec.projectPath, else `group/<repository directory name>`, else `group/project`. */
  forJob(spec: JobSpec): Project {
    const directory = spec.repository ? slugify(basename(resolve(spec.repository.path)).replace(/\.git$/, '')) : '';
    return this.ensure(spec.projectPath ?? `group/${directory || 'project'}`, spec.repository);
  }

  /** The project at `fullPath`, created if new; served from `repository` when one is given (the same one as before, if any). */
  ensure(fullPath: string, repository?: GitRepository): Project {
    if (!/^[\w.-]+(\/[\w.-]+)+$/.test(fullPath)) throw new Error(`project path ${JSON.stringify(fullPath)} is not group/project`);
    let project = this.byPath.get(fullPath);
    if (!project) {
      const segments = fullPath.split('/');
      project = {
        id: this.nextId++,
        namespaceId: this.namespaceId(segments.slice(0, -1).join('/')),
        rootNamespaceId: this.namespaceId(segments[0]!),
        fullPath,
        repository: undefined,
      };
      this.byPath.set(fullPath, project);
    }
    if (repository) {
      if (project.repository && resolve(project.repository.path) !== resolve(repository.path)) {
        throw new Error(`project ${fullPath} is already served from ${project.repository.path}`);
      }
      project.repository = repository;
    }
    return project;
  }

  private namespaceId(path: string): number {
    let id = this.namespaces.get(path);
    if (id === undefined) {
      id = 1000 + this.namespaces.size + 1;
      this.namespaces.set(path, id);
    }
    return id;
  }
}
