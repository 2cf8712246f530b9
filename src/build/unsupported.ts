// What a job asks for that this runner does not run, as warning lines at the
// top of its log: never silently dropped.
import type { ExecutorInfo } from '../job/executor.ts';
import type { Job } from '../job/model.ts';

/**
 * The warnings for what `job` asks that will not happen: what `executor`
 * does not run, and artifacts when the job's source keeps none
 * (`artifactStore` false: every source of this runner keeps them, a build
 * run without one does not).
 */
export function unsupportedWarnings(job: Job, executor: ExecutorInfo, artifactStore: boolean): string[] {
  const warnings: string[] = [];
  const names: string[] = [];
  if (job.image !== undefined && !executor.image) names.push('image');
  if ((job.services?.length ?? 0) > 0 && !executor.services) names.push('services');
  if (names.length > 0) warnings.push(`this runner's ${executor.name} executor does not support ${names.join(', ')}: ignored`);
  const transfers: string[] = [];
  if ((job.artifacts?.length ?? 0) > 0) transfers.push('artifacts');
  // Dependencies without artifacts to download are harmless.
  if (job.dependencies?.some((dependency) => dependency.artifactsFile !== undefined)) transfers.push('dependencies');
  if (!artifactStore && transfers.length > 0) warnings.push(`this job's source keeps no artifacts: ${transfers.join(', ')} ignored`);
  return warnings;
}
