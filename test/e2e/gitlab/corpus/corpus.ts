// The corpus, in the order the jobs run: a project's jobs one after the other
// (each later one fetches into the checkout the earlier ones left).
import type { CorpusJob } from './corpus-job.ts';
import { FDROID_JOBS } from './jobs-fdroid.ts';
import { GITLAB_RUNNER_JOBS } from './jobs-gitlab-runner.ts';
import { PROJECT_JOBS } from './jobs-projects.ts';
import { TEMPLATE_JOBS } from './jobs-templates.ts';

export const CORPUS: readonly CorpusJob[] = [...TEMPLATE_JOBS, ...GITLAB_RUNNER_JOBS, ...FDROID_JOBS, ...PROJECT_JOBS];
