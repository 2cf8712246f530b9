// What Go's bcrypt.Cost() accepts as a hash, with its messages: the toolkit
// refuses a basic_auth_users entry that fails it when it loads the file, so a
// clear-text password put there by mistake is an error, not a user nobody can
// log in as.

const MAJOR_VERSION = '2';
const MIN_COST = 4;
const MAX_COST = 31;
/** Go's minHashSize: "$2a$10$" plus the 53 characters of salt and hash. */
const MIN_HASH_SIZE = 59;

/** Go's error text for a hash that Cost() refuses; undefined when it accepts it. */
export function bcryptHashProblem(hash: string): string | undefined {
  if (hash.length < MIN_HASH_SIZE) return 'crypto/bcrypt: hashedSecret too short to be a bcrypted password';
  if (hash[0] !== '$') return `crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with '${hash[0]}'`;
  if (hash[1]! > MAJOR_VERSION) return `crypto/bcrypt: bcrypt algorithm version '${hash[1]}' requested is newer than current version '${MAJOR_VERSION}'`;
  const rest = hash[3] === '$' ? hash.slice(4) : hash.slice(3);
  const costText = rest.slice(0, 2);
  if (!/^[0-9]{2}$/.test(costText)) return `crypto/bcrypt: invalid cost in hashedSecret ${JSON.stringify(costText)}`;
  const cost = Number(costText);
  if (cost < MIN_COST || cost > MAX_COST) return `crypto/bcrypt: cost ${cost} is outside allowed range (${MIN_COST},${MAX_COST})`;
  return undefined;
}

/**
 * The hash as bcryptjs compares it. Go's bcrypt treats every minor version
 * letter alike ($2a$, $2b$, $2y$ from htpasswd, none at all); bcryptjs knows
 * only a and b, and $2b$ is the same algorithm.
 */
export function comparableHash(hash: string): string {
  if (hash[3] === '$') return `$2b$${hash.slice(4)}`;
  return `$2b$${hash.slice(3)}`;
}
