// `user` of [[runners]]: the users a shell runner's jobs run as. GitLab Runner
// takes one user (`gitlab-runner run --user`) and runs every shell job as it;
// here a runner may name several, and each running job holds one of them
// alone (src/executors/shell/job-user.ts), so that no two jobs that run at
// once share a uid: a uid can read the environment and files of every
// process of the same uid, and the runner ends every process of a job's user
// between stages. So a runner needs as many users as it may run jobs at
// once, and a user belongs to one runner. Whether the users exist and the
// runner may switch to them is checked where jobs run (`runner run`), not
// here: `runner submit` reads the same file as another user.
import { describeValue, quoted } from './describe-value.ts';
import { ConfigError, type TableReader } from './table-reader.ts';
import type { Config, ExecutorName } from './types.ts';

/** A user name as useradd takes it, or a uid: never an option (`-x`) or a path for su/setpriv to misread. */
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;
const MAX_USER_NAME = 32;

/** `user = "name"` or `user = ["a", "b"]`, as a list (empty: jobs run as the runner's own user). */
export function readJobUsers(reader: TableReader, executor: ExecutorName): string[] {
  const users = reader.stringOrStrings('user');
  if (users.length === 0) return [];
  if (executor !== 'shell') {
    throw reader.error(
      'user',
      `only the shell executor runs jobs as another user; for the ${executor} executor set [runners.docker] user (the user in the container), got ${
        users.map(quoted).join(', ')
      }`,
    );
  }
  const seen = new Set<string>();
  users.forEach((user, i) => {
    const key = users.length === 1 ? 'user' : `user[${i}]`;
    if (!USER_NAME.test(user) || user.length > MAX_USER_NAME) {
      throw reader.error(key, `expected a user name (letters, digits, _ . -, not starting with - or .) or a uid, got ${describeValue(user)}`);
    }
    if (seen.has(user)) throw reader.error(key, `${JSON.stringify(user)} is named twice: each running job needs a user of its own`);
    seen.add(user);
  });
  return users;
}

/** The most jobs a runner may run at once: its limit, within `concurrent`. */
function jobsAtOnce(config: Config, limit: number): number {
  return limit === 0 ? config.concurrent : Math.min(limit, config.concurrent);
}

/** Every runner has a user for each job it may run at once, and no user serves two runners. */
export function checkJobUsers(config: Config, origin: string): void {
  const owner = new Map<string, number>();
  for (const [i, runner] of config.runners.entries()) {
    if (runner.user.length === 0) continue;
    const most = jobsAtOnce(config, runner.limit);
    if (runner.user.length < most) {
      const shown = runner.user.length === 1 ? JSON.stringify(runner.user[0]) : `${runner.user.length} users`;
      throw new ConfigError(
        `${origin}: runners[${i}].user: ${shown} for up to ${most} jobs at once (limit = ${runner.limit}, concurrent = ${config.concurrent}): ` +
          `name a user for each job that may run at once, or set limit = ${runner.user.length}`,
      );
    }
    for (const user of runner.user) {
      const other = owner.get(user);
      if (other !== undefined) {
        throw new ConfigError(`${origin}: runners[${i}].user: ${JSON.stringify(user)} is already a user of runners[${other}]; a user serves one runner`);
      }
      owner.set(user, i);
    }
  }
}
