// The monitoring kit's GitLab-names twins (deploy/grafana/runner-dashboard-gitlab-names.json,
// deploy/prometheus/alerts-gitlab-names.yml and its unit tests) are exactly
// what test/support/gitlab-names-twin.ts makes of the originals: they never
// drift from them. monitoring-kit.test.ts runs promtool on the twin rules,
// monitoring-scrape.test.ts checks the twins' queries against a live scrape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gitlabNames, TWINS, twinText } from '../support/gitlab-names-twin.ts';
import { loadDashboard } from '../support/grafana-dashboard.ts';

for (const { original, twin } of TWINS) {
  const name = twin.slice(twin.lastIndexOf('/deploy/') + 1);
  test(`${name} is what the originals make (remake: node dist/test/support/gitlab-names-twin.js --write)`, () => {
    assert.equal(readFileSync(twin, 'utf8'), twinText(original));
  });
}

test('the renaming takes whole names: samples keep their suffixes, other names and labels stay', () => {
  assert.equal(
    gitlabNames(
      'rate(ci_runner_job_duration_seconds_bucket{runner="ci"}[5m]) + ci_runner_builds + count({__name__=~"ci_runner_job_.*"}) + my_ci_runner_jobs + process_cpu_seconds_total',
    ),
    'rate(gitlab_runner_job_duration_seconds_bucket{runner="ci"}[5m]) + gitlab_runner_jobs + count({__name__=~"gitlab_runner_job_.*"}) + my_ci_runner_jobs + process_cpu_seconds_total',
  );
});

test('the twin dashboard imports beside the original: its own uid and title', () => {
  const [dashboard, twin] = TWINS.filter((files) => files.original.endsWith('.json')).flatMap((
    files,
  ) => [loadDashboard(files.original), loadDashboard(files.twin)]);
  assert.ok(dashboard !== undefined && twin !== undefined);
  assert.notEqual(twin.uid, dashboard.uid);
  assert.match(twin.uid, /^[\w-]{1,40}$/);
  assert.notEqual(twin.title, dashboard.title);
});
