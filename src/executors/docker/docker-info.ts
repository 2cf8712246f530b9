// What a runner knows of the docker executor before its code is loaded (executors.ts loads the
// executor when a docker runner is first made): what it offers jobs, and where their projects go.
// Where its daemon listens is docker-host.ts.
import type { ExecutorInfo } from '../../job/executor.ts';

/** Where the project is in the container, and the cache (GitLab's defaults). */
export const CONTAINER_BUILDS_DIR = '/builds';
export const CONTAINER_CACHE_DIR = '/cache';

export const DOCKER_EXECUTOR_INFO: ExecutorInfo = { name: 'docker', shell: 'sh', image: true, services: true, shared: false, showHostname: true };
