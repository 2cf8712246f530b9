// A real-world corpus: jobs taken from public .gitlab-ci.yml files (and two
// examples of GitLab's documentation), run offline through the test
// coordinator by one runner CLI process, each compared with the log and end
// state GitLab Runner's shell executor produces for it. The expected logs are
// written from GitLab Runner 19.4's behaviour (corpus/gitlab-log.ts and
// corpus/gitlab-stages.ts frame them as GitLab Runner does; each job's own
// output is written out in its data file), never from this runner's output.
//
// The jobs and their sources (repository, path, commit; how each was adapted
// to run offline is written next to it):
//   corpus/jobs-templates.ts      GitLab's CI/CD templates (Bash, Getting-Started, Pages/HTML, C++, Pages/Hugo) and two
//                                 examples of doc/ci/variables/job_scripts.md, from gitlabhq/gitlabhq
//   corpus/jobs-gitlab-runner.ts  GitLab Runner's own pipeline, from gitlabhq/gitlab-runner at d79f3e7b
//   corpus/jobs-projects.ts       f-droid/fdroidserver, GNOME/glib, qemu/qemu (custom shell runners), git/git
//
// What the comparison leaves open (corpus/normalise.ts): the time of each line
// prefix, the seconds of section markers, the header's runner name, version
// and revision, the system ID, the Gitaly correlation ID (checked to be the
// X-Request-Id of a job request). Values known when the run ends (paths,
// host name, job ids, commit SHAs, the coordinator's URL) are written into
// the expectation. Everything else is compared byte for byte.
//
// Documented deviations of this runner, made equal before comparing:
//   1. the resource line `Job used N s of CPU, peak RSS N MiB (approximate: ...)` this runner adds before the closing
//      line (docs/metrics.md, per-job resource use) is removed from the actual log;
//   2. stderr: GitLab Runner writes a job's stderr as stream `01E`, this runner one pipe for stdout and stderr (docs/jobs.md,
//      Output), so all of it is `01O`: `01E` is read as `01O` on both sides (the order of lines is still compared);
//   3. the warning this runner prints for what its shell executor ignores (docs/gitlab.md, The job):
//      `WARNING: this runner's shell executor does not support image[, services]: ignored` is removed (GitLab Runner's
//      shell executor ignores image and services silently);
//   4. file variables are written mode 0600 (GitLab Runner: the umask's); no corpus job prints a file variable's mode.
//
// The machine (corpus/machine.ts): offline stand-ins on PATH through ~/.bash_profile for docker, mage, ccache,
// pybabel, hugo and a pip-installed fdroid; package installs (`apt-get`, `apk`) are no-ops in the YAML. Before any
// corpus job, one job checks that the job shells find the stand-ins, so a runner that would run the machine's own
// tools runs nothing.
//
// A job marked [known bug] differs from GitLab Runner in a way that is a bug of
// this runner (its data file says what): its test fails until the runner is fixed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CORPUS } from './corpus/corpus.ts';
import { type CorpusRun, runCorpus } from './corpus/run-corpus.ts';
import { describeDifferences } from './corpus/normalise.ts';
import { PROJECT_PATHS } from './corpus/repositories.ts';
import { hasCommand, skipUnless } from '../../support/tools.ts';

const gitSkip = skipUnless('git', 'git');

let shared: Promise<CorpusRun> | undefined;
const corpusRun = (): Promise<CorpusRun> => (shared ??= runCorpus(CORPUS));
after(async () => {
  if (shared) await (await shared).close();
});

test('the corpus: at least 15 jobs of public .gitlab-ci.yml files, each with its source', () => {
  // GitLab's documentation examples (doc/) come on top of them.
  const fromFiles = CORPUS.filter((job) => !job.source.path.startsWith('doc/'));
  assert.ok(fromFiles.length >= 15, `${fromFiles.length} jobs of .gitlab-ci.yml files`);
  for (const job of CORPUS) {
    assert.match(job.source.repository, /^[\w.-]+\/[\w.-]+$/, job.name);
    assert.match(job.source.commit, /^[0-9a-f]{40}$/, job.name);
    assert.ok(job.source.path !== '' && job.source.job !== '', job.name);
  }
});

test('the corpus runs in order on one runner', { skip: gitSkip }, async () => {
  const run = await corpusRun();
  const ids = run.outcomes.map((o) => o.coordinatorJob.id);
  assert.deepEqual(run.startOrder, ids, 'with concurrent = 1 the jobs run in the order they were queued');
});

for (const [i, job] of CORPUS.entries()) {
  const retried = CORPUS.findIndex((j) => j.name === job.name && j.project === job.project) !== i;
  const label = `${job.knownBug ? '[known bug] ' : ''}${PROJECT_PATHS[job.project]}: ${job.name}${retried ? ' (retried)' : ''} (${job.source.repository})`;
  const missing = (job.needs ?? []).find((command) => !hasCommand(command));
  test(label, { skip: gitSkip || (missing ? `${missing} not installed` : false) }, async () => {
    const outcome = (await corpusRun()).outcomes[i]!;
    const bug = job.knownBug ? `KNOWN BUG (expected to fail until fixed): ${job.knownBug}\n` : '';
    assert.deepEqual(outcome.problems, [], `${bug}the log's variable parts do not have GitLab Runner's form`);
    const difference = describeDifferences(outcome.expected, outcome.actual);
    assert.ok(difference === undefined, `${bug}${difference}`);
    assert.deepEqual(outcome.actualEnd, outcome.expectedEnd, `${bug}end state`);
  });
}
