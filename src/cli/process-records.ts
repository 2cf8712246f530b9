// The runner process's record of what it owns (src/system/process-record.ts),
// and the clean-up after dead predecessors (src/system/dead-runners.ts), as
// `runner run` does them at start.
//
// The records live in .runner_processes beside config.toml, as GitLab
// Runner's other state (.runner_system_id) does: the next start of the same
// runner - same configuration, same user - is what finds them, and so does
// any other runner started from that directory; runners of other
// configuration directories or other users keep their own. Every record
// names its process (pid and start time), and only those of dead processes
// are acted on, so runners sharing the directory never touch each other's.
import { dirname, join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { reapDeadRunners, type ReapReport } from '../system/dead-runners.ts';
import { openProcessRecord } from '../system/process-record.ts';

export const PROCESS_RECORDS_DIR = '.runner_processes';

/** The records directory of the runner whose state file (.runner_system_id) is `statePath`. */
export function processRecordsDir(statePath: string): string {
  return join(dirname(statePath), PROCESS_RECORDS_DIR);
}

/**
 * Ends the job process groups and removes the temporary paths of the dead
 * runner processes recorded in `dir` (before any job of this process runs,
 * and before the local queue reports their jobs), then starts this
 * process's own record. A directory that cannot be used costs the clean-up
 * after this process's death, not the start: it is logged.
 */
export async function startProcessRecord(dir: string, logger: Logger): Promise<void> {
  let report: ReapReport;
  try {
    report = await reapDeadRunners(dir);
  } catch (error) {
    // Never a reason not to start: the dead runners' jobs are failed either way.
    report = { owners: [], groups: [], removed: [], problems: [`${dir}: ${error instanceof Error ? error.message : String(error)}`] };
  }
  if (report.groups.length > 0 || report.removed.length > 0) {
    logger.warn('Cleaned up after runner processes that died', {
      processes: report.owners.join(','),
      job_groups_ended: report.groups.length,
      paths_removed: report.removed.length,
    });
  }
  for (const problem of report.problems) logger.warn('Could not clean up after a dead runner process', { problem });
  try {
    const file = openProcessRecord(dir, (error) => logger.warn('Could not update the runner process record', { error: error.message }));
    logger.debug('Runner process record', { file });
  } catch (error) {
    logger.warn("No runner process record: should this process die, its jobs' temporary files stay until removed by hand", {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
