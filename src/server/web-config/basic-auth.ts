// Basic auth against the web config's bcrypt hashes, as the exporter toolkit
// checks it: a check costs tens of milliseconds of CPU (cost 10 is about 100
// ms in JavaScript), so each outcome is cached by user, hash and password and
// a scrape pays it once; a user that does not exist is checked against a
// fixed hash, so it costs the same as a wrong password (no user enumeration
// by timing); checks run one at a time, so a flood of guesses takes one core
// at most, and only so many wait (the rest are told to come back). bcryptjs
// is imported with the first check: a server without users never loads it.
import { createHash } from 'node:crypto';
import { comparableHash } from './bcrypt-hash.ts';

/** The toolkit's hash of "fakepassword" (cost 10), checked for users that do not exist. */
const FAKE_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
/** Outcomes kept (the toolkit's size); past it a tenth are dropped at random. */
export const CACHE_SIZE = 100;
/** Checks that may wait for the one running; more are answered "busy". */
export const MAX_WAITING_CHECKS = 32;

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** Go's Request.BasicAuth(): "Basic " (any case), base64 of user:password. */
export function basicCredentials(header: string | undefined): Credentials | undefined {
  if (header === undefined || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const encoded = header.slice(6);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export type Verdict = 'allowed' | 'denied' | 'busy';

export class BasicAuthChecker {
  /** Outcome by a digest of user, hash and password: the cache holds no password in clear. */
  private readonly outcomes = new Map<string, boolean>();
  private running: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /** Whether `credentials` name one of `users` with its password; 'busy' when too many checks wait. */
  async check(users: ReadonlyMap<string, string>, credentials: Credentials): Promise<Verdict> {
    const stored = users.get(credentials.user);
    const hash = stored ?? FAKE_HASH;
    const key = createHash('sha256').update(JSON.stringify([credentials.user, hash, credentials.password])).digest('base64');
    let matches = this.outcomes.get(key);
    if (matches === undefined) {
      if (this.waiting >= MAX_WAITING_CHECKS) return 'busy';
      matches = await this.compareInTurn(credentials.password, hash);
      this.remember(key, matches);
    }
    return matches && stored !== undefined ? 'allowed' : 'denied';
  }

  /** Outcomes cached now. */
  get cached(): number {
    return this.outcomes.size;
  }

  private compareInTurn(password: string, hash: string): Promise<boolean> {
    this.waiting++;
    const turn = this.running.then(async () => (await import('bcryptjs')).default.compare(password, comparableHash(hash)));
    this.running = turn.catch(() => undefined).finally(() => this.waiting--);
    return turn;
  }

  private remember(key: string, matches: boolean): void {
    if (this.outcomes.size >= CACHE_SIZE) {
      // Dropping a tenth at once, as the toolkit does, keeps this off the path of most checks.
      const keys = [...this.outcomes.keys()];
      for (let n = Math.max(1, Math.floor(keys.length / 10)); n > 0; n--) {
        const at = Math.floor(this.random() * keys.length);
        this.outcomes.delete(keys[at]!);
        keys.splice(at, 1);
      }
    }
    this.outcomes.set(key, matches);
  }
}
