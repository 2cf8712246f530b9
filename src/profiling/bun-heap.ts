// Bun (JavaScriptCore) has no sampling heap profiler, so its heap profile is
// live objects BY TYPE, from the V8-format heap snapshot that
// `Bun.generateHeapSnapshot('v8')` returns: exact counts and sizes, no
// allocation stacks. Pure functions: the caller takes the snapshot.
import { PprofBuilder } from './pprof-builder.ts';

export interface HeapTypeSummary {
  /** The snapshot's node type: "object", "string", "closure", "code", ... */
  readonly type: string;
  /** The node's name ("Map", a function's name, ...); for value types, the type itself. */
  readonly name: string;
  /** Live nodes of this type and name. */
  readonly count: number;
  /** Sum of their self sizes, bytes. */
  readonly bytes: number;
}

/**
 * Node types whose snapshot "name" is the value itself (a string's contents,
 * a number's digits): never shown, it could be a secret, and each distinct
 * value would be a row of its own.
 */
const VALUE_TYPES: ReadonlySet<string> = new Set(['string', 'concatenated string', 'sliced string', 'number', 'bigint', 'symbol', 'regexp']);

export const MAX_NAME_LENGTH = 100;

export const BUN_HEAP_COMMENT = 'Bun: live objects by type from a JavaScriptCore heap snapshot; no allocation stacks';

/** A name on one line, at most MAX_NAME_LENGTH characters (the last one an ellipsis when cut). */
function displayName(raw: string): string {
  // Control characters (newlines in a name) would break the one-line-per-row text form.
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  let name = raw.replace(/[\u0000-\u001f\u007f]/g, ' ');
  if (name.length > MAX_NAME_LENGTH) {
    let end = MAX_NAME_LENGTH - 1;
    // Do not split a surrogate pair.
    const last = name.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    name = `${name.slice(0, end)}…`;
  }
  return name;
}

class SnapshotError extends Error {
  constructor(what: string) {
    super(`malformed heap snapshot: ${what}`);
    this.name = 'SnapshotError';
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Aggregates a V8-format heap snapshot's nodes by (type, name); the largest in bytes first. */
export function summarizeHeapSnapshot(snapshotJson: string): HeapTypeSummary[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(snapshotJson);
  } catch (error) {
    throw new SnapshotError(`not JSON (${(error instanceof Error ? error.message : String(error)).split('\n')[0]})`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new SnapshotError('not a JSON object');
  const root = parsed as { snapshot?: { meta?: { node_fields?: unknown; node_types?: unknown } }; nodes?: unknown; strings?: unknown };
  const meta = root.snapshot?.meta;
  if (typeof meta !== 'object' || meta === null) throw new SnapshotError('no snapshot.meta');
  const fields = meta.node_fields;
  if (!isStringArray(fields)) throw new SnapshotError('snapshot.meta.node_fields is not a list of strings');
  const missing = ['type', 'name', 'self_size'].filter((field) => !fields.includes(field));
  if (missing.length > 0) throw new SnapshotError(`snapshot.meta.node_fields lacks ${missing.join(', ')}`);
  const typeField = fields.indexOf('type');
  const nameField = fields.indexOf('name');
  const sizeField = fields.indexOf('self_size');
  const nodeTypes = Array.isArray(meta.node_types) ? (meta.node_types as unknown[])[typeField] : undefined;
  if (!isStringArray(nodeTypes)) throw new SnapshotError(`snapshot.meta.node_types[${typeField}] is not the list of type names`);
  const nodes = root.nodes;
  if (!Array.isArray(nodes)) throw new SnapshotError('no nodes array');
  const strings = root.strings;
  if (!Array.isArray(strings)) throw new SnapshotError('no strings array');
  const stride = fields.length;
  if (nodes.length % stride !== 0) {
    throw new SnapshotError(`nodes has ${nodes.length} numbers, not a multiple of the ${stride} node_fields`);
  }

  interface Bucket {
    type: string;
    name: string;
    count: number;
    bytes: number;
  }
  const byKey = new Map<string, Bucket>();
  // Most nodes share a (type index, name index): resolve each pair's bucket once.
  const byIndex = new Map<number, Bucket>();
  const values = nodes as unknown[];
  for (let offset = 0; offset < values.length; offset += stride) {
    const typeIndex = values[offset + typeField];
    const nameIndex = values[offset + nameField];
    const size = values[offset + sizeField];
    if (typeof typeIndex !== 'number' || typeof nameIndex !== 'number' || typeof size !== 'number') {
      throw new SnapshotError(`node ${offset / stride} has a non-numeric field`);
    }
    if (!Number.isInteger(typeIndex) || typeIndex < 0 || typeIndex >= nodeTypes.length) {
      throw new SnapshotError(`node ${offset / stride} has type ${typeIndex}, not one of the ${nodeTypes.length} node_types`);
    }
    if (!Number.isInteger(nameIndex) || nameIndex < 0 || nameIndex >= strings.length) {
      throw new SnapshotError(`node ${offset / stride} has name ${nameIndex}, not in the ${strings.length} strings`);
    }
    const indexKey = typeIndex * strings.length + nameIndex;
    let bucket = byIndex.get(indexKey);
    if (!bucket) {
      const type = nodeTypes[typeIndex]!;
      const rawName: unknown = strings[nameIndex];
      if (typeof rawName !== 'string') throw new SnapshotError(`node ${offset / stride} has name ${nameIndex}, which is not a string`);
      const name = VALUE_TYPES.has(type) ? type : displayName(rawName);
      const key = `${type}\u0000${name}`;
      bucket = byKey.get(key);
      if (!bucket) {
        bucket = { type: displayName(type), name, count: 0, bytes: 0 };
        byKey.set(key, bucket);
      }
      byIndex.set(indexKey, bucket);
    }
    bucket.count++;
    bucket.bytes += size;
  }
  return [...byKey.values()].sort((a, b) => b.bytes - a.bytes || b.count - a.count || compare(a.type, b.type) || compare(a.name, b.name));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The summary as a gzipped pprof heap profile: inuse_objects/count and
 * inuse_space/bytes (the default), exact (period 1), one sample per row whose
 * one-frame "stack" is a pseudo-frame named after the type.
 */
export function heapSummaryToPprof(summary: readonly HeapTypeSummary[], takenAtMs: number): Uint8Array {
  const builder = new PprofBuilder({
    sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
    periodType: { type: 'space', unit: 'bytes' },
    period: 1,
    defaultSampleType: 1,
    startedAtMs: takenAtMs,
    durationMs: 0,
    comments: [BUN_HEAP_COMMENT],
  });
  for (const row of summary) {
    const location = builder.locationId({
      functionName: row.name || row.type,
      url: `bun-heap-snapshot:${row.type}`,
      lineNumber: -1,
      columnNumber: -1,
    });
    builder.addSample([location], [row.count, row.bytes]);
  }
  return builder.encode();
}

/** The legible form (`?debug=1`): a header, the totals, then `<count> <bytes> <type> <name>` per row, in columns. */
export function heapSummaryText(summary: readonly HeapTypeSummary[]): string {
  let objects = 0;
  let bytes = 0;
  for (const row of summary) {
    objects += row.count;
    bytes += row.bytes;
  }
  let countWidth = 1;
  let bytesWidth = 1;
  let typeWidth = 1;
  for (const row of summary) {
    countWidth = Math.max(countWidth, String(row.count).length);
    bytesWidth = Math.max(bytesWidth, String(row.bytes).length);
    typeWidth = Math.max(typeWidth, row.type.length);
  }
  const lines = [
    '# Bun heap: live objects by type from a JavaScriptCore heap snapshot (exact, not sampled); no allocation stacks. Columns: objects bytes type name',
    `# total: ${objects} objects, ${bytes} bytes in ${summary.length} (type, name) groups`,
    ...summary.map((row) =>
      `${String(row.count).padStart(countWidth)} ${String(row.bytes).padStart(bytesWidth)} ${row.type.padEnd(typeWidth)} ${row.name}`.trimEnd()
    ),
  ];
  return `${lines.join('\n')}\n`;
}
