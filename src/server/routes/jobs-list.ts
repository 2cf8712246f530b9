// GET /debug/jobs/list: GitLab Runner's list format, version 2, one line per
// running job with GitLab's keys first and ours after them.
import type { JobView, RunnerStatus } from '../../job/status.ts';
import { send } from '../respond.ts';
import type { Route } from '../router.ts';
import { formatGoDuration } from '../../system/go-duration.ts';

function quote(value: string): string {
  return value === '' || /[\s"\\=]/.test(value) ? JSON.stringify(value) : value;
}

export function formatJobLine(job: JobView, now: number): string {
  const fields: [string, string][] = [
    ['url', job.url],
    ['state', job.state],
    ['stage', job.stage],
    ['executor_stage', job.executorStage],
    ['duration', formatGoDuration(now - job.startedAt)],
    ['id', job.id],
    ['name', job.name],
    ['runner', job.runner],
    ['pid', job.pid === undefined ? '' : String(job.pid)],
  ];
  return fields.map(([key, value]) => `${key}=${quote(value)}`).join(' ');
}

export function jobsListRoute(agent: RunnerStatus): Route {
  return {
    path: '/debug/jobs/list',
    methods: ['GET'],
    handler: (req, res) => {
      const now = Date.now();
      const lines = agent.runningJobs().map((job) => formatJobLine(job, now) + '\n');
      // An empty list is an empty body, not a blank line.
      send(req, res, 200, lines.join(''), { 'X-List-Version': '2' });
    },
  };
}
