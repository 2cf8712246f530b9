// Reads one TOML table by its schema (schema.ts): typed getters whose wrong
// values are one-line errors naming the key and what was expected, defaults
// from the schema, and the keys the schema does not declare as warnings.
import { describeValue } from './describe-value.ts';
import { closestName } from './did-you-mean.ts';
import { ListenAddressError, parseListenAddress } from './listen-address.ts';
import type { KeySpec, KeyType } from './schema.ts';
import type { ListenAddress } from './listen-address.ts';

export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

export type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Reads the keys of one table that its schema declares; the rest are unknown keys. */
export class TableReader {
  private readonly nested: TableReader[] = [];

  constructor(
    private readonly table: Table,
    private readonly schema: Readonly<Record<string, KeySpec>>,
    private readonly where: string,
    private readonly origin: string,
  ) {}

  private fail(key: string, expected: string, value: unknown): never {
    throw new ConfigError(`${this.origin}: ${this.where}${key}: expected ${expected}, got ${describeValue(value)}`);
  }

  /** The key's value; reading a key the schema does not declare as `type` is the validator's own bug. */
  private take(key: string, type: KeyType): unknown {
    if (this.schema[key]?.type !== type) throw new Error(`config schema: ${this.where}${key} is not declared as ${type}`);
    return this.table[key];
  }

  private fallback<T extends number | string | boolean>(key: string): T {
    return this.schema[key]!.default as T;
  }

  integer(key: string, min: number, max: number): number {
    const value = this.take(key, 'integer');
    if (value === undefined) return this.fallback(key);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(key, `an integer from ${min} to ${max}`, value);
    }
    return value;
  }

  /** A number of seconds, fractions allowed, within [min, max]; 0 means the default. */
  fractionalSeconds(key: string, min: number, max: number): number {
    const value = this.take(key, 'number');
    if (value === undefined || value === 0) return this.fallback(key);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(key, `a number of seconds from ${min} to ${max}`, value);
    }
    return value;
  }

  /** A number of seconds within [min, max], undefined when absent (something else, such as the environment, decides then). */
  optionalSeconds(key: string, min: number, max: number): number | undefined {
    const value = this.take(key, 'number');
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) this.fail(key, `a number of seconds from ${min} to ${max}`, value);
    return value;
  }

  /** Seconds; as in GitLab Runner, 0 means the default. */
  seconds(key: string, max: number): number {
    return this.integer(key, 0, max) || this.fallback(key);
  }

  string(key: string): string | undefined {
    const value = this.take(key, 'string');
    if (value === undefined) return undefined;
    if (typeof value !== 'string') this.fail(key, 'a string', value);
    return value;
  }

  path(key: string): string {
    const value = this.string(key);
    if (value === undefined) return this.fallback(key);
    if (value.trim() === '' || value.includes('\u0000')) this.fail(key, 'a non-empty path', value);
    return value;
  }

  boolean(key: string): boolean {
    const value = this.take(key, 'boolean');
    if (value === undefined) return this.fallback(key);
    if (typeof value !== 'boolean') this.fail(key, 'true or false', value);
    return value;
  }

  choice<T extends string>(key: string, choices: readonly T[]): T {
    const value = this.take(key, 'string');
    if (value === undefined) return this.fallback(key);
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(key, `one of ${choices.join(', ')}`, value);
    }
    return value as T;
  }

  /** A choice that may be absent (no default). */
  optionalChoice<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const value = this.take(key, 'string');
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(key, `one of ${choices.join(', ')}`, value);
    }
    return value as T;
  }

  strings(key: string): string[] {
    const value = this.take(key, 'array of strings');
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) this.fail(key, 'an array of strings', value);
    return value;
  }

  /** A string or an array of strings (GitLab's pull_policy), as an array; the schema's default when absent. */
  stringOrStrings(key: string): string[] {
    const value = this.take(key, 'string or array of strings');
    if (value === undefined) {
      const fallback = this.schema[key]!.default;
      return typeof fallback === 'string' ? [fallback] : [];
    }
    if (typeof value === 'string') return [value];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) this.fail(key, 'a string or an array of strings', value);
    return value;
  }

  /** A table whose every value is a string (`headers = { Authorization = "..." }`); empty when absent. */
  stringTable(key: string): Record<string, string> {
    const value = this.take(key, 'table of strings');
    if (value === undefined) return {};
    if (!isTable(value) || !Object.values(value).every((item) => typeof item === 'string')) this.fail(key, 'a table of strings', value);
    return { ...value } as Record<string, string>;
  }

  /** Each table of an array of tables ([[runners.x.y]]), read by its own schema; unknown keys join this reader's warnings. */
  tableReaders(key: string, schema: Readonly<Record<string, KeySpec>>): TableReader[] {
    return this.tables(key).map((table, i) => {
      const reader = new TableReader(table, schema, `${this.where}${key}[${i}].`, this.origin);
      this.nested.push(reader);
      return reader;
    });
  }

  /** An error naming one of this table's keys. */
  error(key: string, message: string): ConfigError {
    return new ConfigError(`${this.origin}: ${this.where}${key}: ${message}`);
  }

  /** A nested table ([runners.x]), read by its own schema; its unknown keys join this reader's warnings. */
  subtable(key: string, schema: Readonly<Record<string, KeySpec>>): TableReader | undefined {
    const value = this.take(key, 'table');
    if (value === undefined) return undefined;
    if (!isTable(value)) this.fail(key, 'a table', value);
    const reader = new TableReader(value, schema, `${this.where}${key}.`, this.origin);
    this.nested.push(reader);
    return reader;
  }

  tables(key: string): Table[] {
    const value = this.take(key, 'array of tables');
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every(isTable)) this.fail(key, `an array of tables ([[${key}]])`, value);
    return value;
  }

  address(key: string, value: string): ListenAddress | undefined {
    try {
      return parseListenAddress(value);
    } catch (error) {
      if (error instanceof ListenAddressError) throw new ConfigError(`${this.origin}: ${this.where}${key}: ${error.message}`);
      throw error;
    }
  }

  unknownKeys(): string[] {
    return Object.keys(this.table)
      .filter((key) => !Object.hasOwn(this.schema, key))
      .map((key) => {
        const near = closestName(key, Object.keys(this.schema));
        const hint = near === undefined ? '' : `; did you mean ${this.where}${near}?`;
        return `${this.origin}: unknown key ${this.where}${/^[\w-]+$/.test(key) ? key : JSON.stringify(key)} (ignored${hint})`;
      })
      .concat(this.nested.flatMap((reader) => reader.unknownKeys()));
  }
}
