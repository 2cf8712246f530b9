// What a job asks for that this runner does not run yet, as the warning line
// at the top of its log: never silently dropped.
import type { ExecutorInfo } from '../job/executor.ts';
import type { Job } from '../job/model.ts';

/** The warning for what `job` asks of `executor` that will not happen, or undefined when nothing. */
export function unsupportedWarning(job: Job, executor: ExecutorInfo): string | undefined {
  const names: string[] = [];
  if (job.image !== undefined && !executor.image) names.push('image');
  if ((job.services?.length ?? 0) > 0 && !executor.services) names.push('services');
  // The cache and artifact stages are not built yet, whatever the executor.
  if ((job.artifacts?.length ?? 0) > 0) names.push('artifacts');
  if ((job.cache?.length ?? 0) > 0) names.push('cache');
  // Dependencies without artifacts to download are harmless.
  if (job.dependencies?.some((dependency) => dependency.artifactsFile !== undefined)) names.push('dependencies');
  return names.length === 0 ? undefined : `this runner's ${executor.name} executor does not support ${names.join(', ')}: ignored`;
}
