// Bun's heap profile: live objects by type from a V8-format heap snapshot.
// The pure functions run on every runtime from a hand-made snapshot; one test
// takes a real snapshot on Bun, one reads the profile with `go tool pprof`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import {
  BUN_HEAP_COMMENT,
  heapSummaryText,
  heapSummaryToPprof,
  type HeapTypeSummary,
  MAX_NAME_LENGTH,
  summarizeHeapSnapshot,
} from '../../../src/profiling/bun-heap.ts';
import { runtime } from '../../../src/runtime/runtime.ts';
import { skipUnless } from '../../support/tools.ts';

const NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'] as const;
const NODE_TYPES = [
  'hidden',
  'array',
  'string',
  'object',
  'code',
  'closure',
  'regexp',
  'number',
  'native',
  'synthetic',
  'concatenated string',
  'sliced string',
  'symbol',
  'bigint',
  'object shape',
] as const;

type FixtureNode = readonly [type: (typeof NODE_TYPES)[number], name: string, selfSize: number];

/** A V8-format snapshot as `Bun.generateHeapSnapshot('v8')` writes it, with these nodes and no edges. */
function snapshotJson(nodes: readonly FixtureNode[], nodeFields: readonly string[] = NODE_FIELDS): string {
  const strings: string[] = [];
  const stringIndex = (s: string): number => {
    const found = strings.indexOf(s);
    return found >= 0 ? found : strings.push(s) - 1;
  };
  const flat: number[] = [];
  nodes.forEach(([type, name, selfSize], i) => {
    const values: Record<string, number> = {
      type: NODE_TYPES.indexOf(type),
      name: stringIndex(name),
      id: i * 2 + 1,
      self_size: selfSize,
      edge_count: 0,
      trace_node_id: 0,
      detachedness: 0,
    };
    for (const field of nodeFields) flat.push(values[field] ?? 0);
  });
  return JSON.stringify({
    snapshot: {
      meta: {
        node_fields: nodeFields,
        node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'],
        edge_fields: ['type', 'name_or_index', 'to_node'],
        edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'], 'string_or_number', 'node'],
      },
      node_count: nodes.length,
      edge_count: 0,
    },
    nodes: flat,
    edges: [],
    strings,
  });
}

/** Values that a heap snapshot names string and number nodes by: none may come out. */
const SECRETS = [
  'postgres://admin:hunter2@db/prod',
  'hunter2',
  'AKIA-SECRET-TOKEN-123',
  'eyJhbGciOiJIUzI1NiJ9',
  '3.14159',
  '12345678901234567890',
  'secret-symbol',
];

const LONG_NAME = `LongClassName_${'x'.repeat(300)}`;

const FIXTURE: readonly FixtureNode[] = [
  ['synthetic', '', 0],
  ['object', 'Map', 32],
  ['object', 'Map', 32],
  ['object', 'Map', 32],
  ['object', 'Map', 40],
  ['closure', 'handleRequest', 64],
  ['closure', 'handleRequest', 64],
  ['object', 'Set', 24],
  ['object', 'Set', 24],
  ['code', 'FunctionCodeBlock', 48],
  ['object shape', 'Structure', 1000],
  ['string', 'postgres://admin:hunter2@db/prod', 56],
  ['string', 'AKIA-SECRET-TOKEN-123', 40],
  ['concatenated string', 'Bearer eyJhbGciOiJIUzI1NiJ9', 32],
  ['sliced string', 'hunter2', 24],
  ['number', '3.14159', 16],
  ['bigint', '12345678901234567890', 24],
  ['symbol', 'Symbol(secret-symbol)', 16],
  // Two names that differ only beyond the limit: one row.
  ['object', LONG_NAME, 8],
  ['object', `${LONG_NAME}y`, 8],
];

const row = (summary: readonly HeapTypeSummary[], type: string, name: string): HeapTypeSummary | undefined =>
  summary.find((r) => r.type === type && r.name === name);

test('summarizeHeapSnapshot aggregates nodes by (type, name), counting them and summing self sizes', () => {
  const summary = summarizeHeapSnapshot(snapshotJson(FIXTURE));
  assert.deepEqual(row(summary, 'object', 'Map'), { type: 'object', name: 'Map', count: 4, bytes: 136 });
  assert.deepEqual(row(summary, 'closure', 'handleRequest'), { type: 'closure', name: 'handleRequest', count: 2, bytes: 128 });
  assert.deepEqual(row(summary, 'object shape', 'Structure'), { type: 'object shape', name: 'Structure', count: 1, bytes: 1000 });
  assert.deepEqual(row(summary, 'synthetic', ''), { type: 'synthetic', name: '', count: 1, bytes: 0 });
  assert.equal(summary.reduce((sum, r) => sum + r.count, 0), FIXTURE.length);
  assert.equal(summary.reduce((sum, r) => sum + r.bytes, 0), FIXTURE.reduce((sum, [, , size]) => sum + size, 0));
});

test('string, number, bigint and symbol contents never appear: those nodes are named by their type', () => {
  const summary = summarizeHeapSnapshot(snapshotJson(FIXTURE));
  assert.deepEqual(row(summary, 'string', 'string'), { type: 'string', name: 'string', count: 2, bytes: 96 });
  for (const type of ['concatenated string', 'sliced string', 'number', 'bigint', 'symbol']) {
    assert.ok(row(summary, type, type), `no ${type} row named ${type} in ${JSON.stringify(summary)}`);
    assert.equal(summary.filter((r) => r.type === type).length, 1);
  }
  const outputs = {
    summary: JSON.stringify(summary),
    text: heapSummaryText(summary),
    pprof: gunzipSync(heapSummaryToPprof(summary, Date.now())).toString('latin1'),
  };
  for (const [where, output] of Object.entries(outputs)) {
    for (const secret of SECRETS) assert.ok(!output.includes(secret), `${where} leaks ${JSON.stringify(secret)}`);
  }
});

test('rows are sorted by bytes, largest first, then by count', () => {
  const summary = summarizeHeapSnapshot(snapshotJson(FIXTURE));
  for (let i = 1; i < summary.length; i++) {
    const [prev, cur] = [summary[i - 1]!, summary[i]!];
    assert.ok(prev.bytes > cur.bytes || (prev.bytes === cur.bytes && prev.count >= cur.count), `${JSON.stringify(prev)} before ${JSON.stringify(cur)}`);
  }
  assert.deepEqual(summary.slice(0, 3).map((r) => r.name), ['Structure', 'Map', 'handleRequest']);
  // Same 48 bytes: two Set objects come before one code block.
  const set = summary.findIndex((r) => r.name === 'Set');
  const code = summary.findIndex((r) => r.name === 'FunctionCodeBlock');
  assert.ok(set >= 0 && set + 1 === code, `Set at ${set}, FunctionCodeBlock at ${code}`);
});

test(`names longer than ${MAX_NAME_LENGTH} characters are cut, and names equal up to the cut share a row`, () => {
  const summary = summarizeHeapSnapshot(snapshotJson(FIXTURE));
  const long = summary.filter((r) => r.name.startsWith('LongClassName_'));
  assert.equal(long.length, 1, JSON.stringify(long));
  assert.equal(long[0]!.name.length, MAX_NAME_LENGTH);
  assert.ok(LONG_NAME.startsWith(long[0]!.name.slice(0, -1)));
  assert.equal(long[0]!.count, 2);
  assert.equal(long[0]!.bytes, 16);
  for (const r of summary) assert.ok(r.name.length <= MAX_NAME_LENGTH, r.name);
});

test('a malformed snapshot throws an Error with a one-line message saying what is wrong', () => {
  const cases: ReadonlyArray<readonly [string, RegExp]> = [
    [snapshotJson(FIXTURE, NODE_FIELDS.filter((f) => f !== 'self_size')), /node_fields lacks self_size/],
    [snapshotJson(FIXTURE, ['id', 'self_size']), /node_fields lacks type, name/],
    ['{"snapshot": {"meta": {"node_fields": ["type", "name", "self_size"]', /not JSON/],
    ['[]', /no snapshot\.meta/],
    [
      JSON.stringify({ snapshot: { meta: { node_fields: ['type', 'name', 'self_size'], node_types: [['object']] } }, nodes: [0, 0, 8, 0], strings: ['A'] }),
      /not a multiple/,
    ],
    [
      JSON.stringify({ snapshot: { meta: { node_fields: ['type', 'name', 'self_size'], node_types: [['object']] } }, nodes: [3, 0, 8], strings: ['A'] }),
      /type 3/,
    ],
    [
      JSON.stringify({ snapshot: { meta: { node_fields: ['type', 'name', 'self_size'], node_types: [['object']] } }, nodes: [0, 7, 8], strings: ['A'] }),
      /name 7/,
    ],
    [JSON.stringify({ snapshot: { meta: { node_fields: ['type', 'name', 'self_size'], node_types: [['object']] } }, strings: [] }), /no nodes/],
  ];
  for (const [json, pattern] of cases) {
    assert.throws(() => summarizeHeapSnapshot(json), (error: unknown) => {
      assert.ok(error instanceof Error, String(error));
      assert.match(error.message, pattern);
      assert.match(error.message, /^malformed heap snapshot: /);
      assert.ok(!error.message.includes('\n'), JSON.stringify(error.message));
      return true;
    }, json.slice(0, 80));
  }
});

test('heapSummaryToPprof gzips a profile that pprof-format reads back: types, period, time, one pseudo-frame per row', () => {
  const summary = summarizeHeapSnapshot(snapshotJson(FIXTURE));
  const takenAtMs = 1_767_225_600_123;
  const profile = Profile.decode(gunzipSync(heapSummaryToPprof(summary, takenAtMs)));
  const strings = profile.stringTable.strings;
  const str = (index: number | bigint): string => strings[Number(index)] ?? `<bad string ${index}>`;
  assert.deepEqual(profile.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`), ['inuse_objects/count', 'inuse_space/bytes']);
  assert.equal(str(profile.defaultSampleType), 'inuse_space');
  assert.ok(profile.periodType);
  assert.equal(`${str(profile.periodType.type)}/${str(profile.periodType.unit)}`, 'space/bytes');
  assert.equal(Number(profile.period), 1);
  assert.equal(BigInt(profile.timeNanos), BigInt(takenAtMs) * 1_000_000n);
  assert.equal(Number(profile.durationNanos), 0);
  assert.deepEqual(profile.comment.map(str), [BUN_HEAP_COMMENT]);

  const functions = new Map(profile.function.map((f) => [Number(f.id), f]));
  const locations = new Map(profile.location.map((l) => [Number(l.id), l]));
  const decoded = profile.sample.map((sample) => {
    assert.equal(sample.locationId.length, 1, 'one pseudo-frame per sample');
    const location = locations.get(Number(sample.locationId[0]));
    assert.ok(location && location.line.length === 1);
    const fn = functions.get(Number(location.line[0]!.functionId));
    assert.ok(fn);
    return { name: str(fn.name), file: str(fn.filename), values: sample.value.map(Number) };
  });
  assert.equal(decoded.length, summary.length);
  summary.forEach((r, i) => {
    assert.deepEqual(decoded[i], { name: r.name || r.type, file: `bun-heap-snapshot:${r.type}`, values: [r.count, r.bytes] });
  });
  assert.ok(decoded.some((d) => d.name === 'Map' && d.file === 'bun-heap-snapshot:object' && d.values[0] === 4 && d.values[1] === 136));
  assert.ok(decoded.some((d) => d.name === 'synthetic' && d.file === 'bun-heap-snapshot:synthetic'), 'an empty name falls back to the type');
});

test('heapSummaryText: a header saying what it is, the totals, then one aligned row per (type, name)', () => {
  const summary = summarizeHeapSnapshot(snapshotJson(FIXTURE));
  const lines = heapSummaryText(summary).trimEnd().split('\n');
  assert.match(lines[0]!, /^# .*Bun.*live objects by type.*heap snapshot.*no allocation stacks/i);
  const objects = summary.reduce((sum, r) => sum + r.count, 0);
  const bytes = summary.reduce((sum, r) => sum + r.bytes, 0);
  assert.match(lines[1]!, new RegExp(`^# total: ${objects} objects, ${bytes} bytes in ${summary.length} `));
  const rows = lines.slice(2);
  assert.equal(rows.length, summary.length);
  assert.match(rows[0]!, /^\s*1\s+1000 object shape\s+Structure$/);
  assert.match(rows.find((l) => l.endsWith(' Map'))!, /^\s*4\s+136 object\s+Map$/);
  // Columns: counts and bytes right-aligned, types padded so that every name starts at the same offset.
  const typeWidth = Math.max(...summary.map((r) => r.type.length));
  const widths = new Set<string>();
  rows.forEach((line, i) => {
    const r = summary[i]!;
    const match = /^( *\d+) ( *\d+) (.*)$/.exec(line);
    assert.ok(match, line);
    widths.add(`${match[1]!.length},${match[2]!.length}`);
    assert.equal(Number(match[1]), r.count);
    assert.equal(Number(match[2]), r.bytes);
    assert.equal(match[3]!.slice(0, typeWidth).trimEnd(), r.type, line);
    assert.equal(match[3]!.slice(typeWidth + 1), r.name, line);
  });
  assert.equal(widths.size, 1, rows.join('\n'));
  assert.equal(heapSummaryText([]).split('\n').length, 3, 'header and totals, even when empty');
});

test('a real Bun heap snapshot summarizes to live objects of more than 1 MiB', {
  skip: runtime.name === 'bun' ? false : `needs Bun.generateHeapSnapshot; this is ${runtime.name}`,
}, () => {
  const bun = (globalThis as { Bun?: { generateHeapSnapshot(format: 'v8'): string } }).Bun;
  assert.ok(bun, 'globalThis.Bun');
  class BunHeapTestMarker {
    constructor(readonly index: number) {}
  }
  const kept = Array.from({ length: 10_000 }, (_, i) => new BunHeapTestMarker(i));
  const summary = summarizeHeapSnapshot(bun.generateHeapSnapshot('v8'));
  const objects = summary.filter((r) => r.type === 'object');
  assert.ok(objects.length > 0, 'object rows');
  assert.ok(objects.reduce((sum, r) => sum + r.count, 0) > 0);
  const total = summary.reduce((sum, r) => sum + r.bytes, 0);
  assert.ok(total > 1024 * 1024, `total ${total} bytes`);
  const marker = row(summary, 'object', 'BunHeapTestMarker');
  assert.ok(marker && marker.count >= kept.length, JSON.stringify(marker));
  for (const r of summary) {
    if (r.type === 'string') assert.equal(r.name, 'string');
    assert.ok(r.name.length <= MAX_NAME_LENGTH);
  }
  const profile = Profile.decode(gunzipSync(heapSummaryToPprof(summary, Date.now())));
  assert.equal(profile.sample.length, summary.length);
});

test(
  'go tool pprof reads the profile: -raw and -top show the sample types and the types',
  { skip: skipUnless('go', 'golang-go', 'version'), timeout: 120_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-bun-heap-'));
    try {
      const file = join(dir, 'heap.pb.gz');
      writeFileSync(file, heapSummaryToPprof(summarizeHeapSnapshot(snapshotJson(FIXTURE)), Date.now()));
      const pprof = (flag: string): string => {
        const result = spawnSync('go', ['tool', 'pprof', flag, file], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(result.status, 0, `go tool pprof ${flag}: ${result.error?.message ?? ''}${result.stderr}`);
        return `${result.stdout}${result.stderr}`;
      };
      const raw = pprof('-raw');
      assert.match(raw, /PeriodType: space bytes/);
      assert.match(raw, /inuse_objects\/count\s+inuse_space\/bytes/);
      assert.match(raw, /\b4\s+136:/);
      assert.match(raw, /Map bun-heap-snapshot:object/);
      const top = pprof('-top');
      assert.match(top, /Type: inuse_space/);
      assert.match(top, /live objects by type/);
      assert.match(top, /\bStructure\b/);
      assert.match(top, /\bMap\b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
