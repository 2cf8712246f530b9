// The monitoring kit's GitLab-names twins: the dashboard, the alert rules and
// their unit tests with every ci_runner_* name replaced by the name
// metric_names = "gitlab_runner" serves (src/telemetry/metric-names.ts), so
// one source decides both. test/deploy/gitlab-names-twin.test.ts checks that
// the shipped twins are what this makes; run this file with --write to
// remake them after changing the originals.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { gitlabName } from '../../src/telemetry/metric-names.ts';
import { packageRoot } from '../../src/version.ts';

const DEPLOY = join(packageRoot(), 'deploy');

/** Each twin: the original it is made from, and where it is shipped. */
export const TWINS = [
  { original: join(DEPLOY, 'grafana', 'runner-dashboard.json'), twin: join(DEPLOY, 'grafana', 'runner-dashboard-gitlab-names.json') },
  { original: join(DEPLOY, 'prometheus', 'alerts.yml'), twin: join(DEPLOY, 'prometheus', 'alerts-gitlab-names.yml') },
  { original: join(DEPLOY, 'prometheus', 'alerts.test.yml'), twin: join(DEPLOY, 'prometheus', 'alerts-gitlab-names.test.yml') },
] as const;

/** Every ci_runner_* identifier (a family's or a sample's name) in `text` under its GitLab Runner name. */
export function gitlabNames(text: string): string {
  return text.replace(/(?<![A-Za-z0-9_])ci_runner_[A-Za-z0-9_]*/g, (name) => gitlabName(name) ?? name);
}

const YAML_HEADER = [
  '# GENERATED from {original} for metric_names = "gitlab_runner" (or "both"): the same',
  "# rules on GitLab Runner's metric names. Do not edit; change {original} and run",
  '# `node dist/test/support/gitlab-names-twin.js --write`.',
  '',
].join('\n');

/** The twin of the file at `original`, as it is shipped. */
export function twinText(original: string): string {
  const text = readFileSync(original, 'utf8');
  if (original.endsWith('.json')) {
    const dashboard = JSON.parse(gitlabNames(text)) as { uid: string; title: string; description?: string };
    dashboard.uid = `${dashboard.uid}-gitlab-names`;
    dashboard.title = `${dashboard.title} (GitLab Runner metric names)`;
    return `${JSON.stringify(dashboard, null, 2)}\n`;
  }
  const name = original.slice(original.lastIndexOf('/') + 1);
  const body = gitlabNames(text).replace(/^(\s*-\s*)alerts\.yml$/m, '$1alerts-gitlab-names.yml');
  return YAML_HEADER.replaceAll('{original}', name) + body;
}

// Only when run as the script itself, never when a test imports it.
if (process.argv[1]?.endsWith('gitlab-names-twin.js') === true && process.argv.includes('--write')) {
  for (const { original, twin } of TWINS) writeFileSync(twin, twinText(original));
}
