// Imports point one way: the directions written in docs/architecture.md hold
// for every import of src/, and the check catches the imports that would
// break them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { packageRoot } from '../../src/version.ts';
import { type Edge, folders, importEdges, violations } from '../support/import-graph.ts';
import { codeSpans, readDoc, tableUnder } from '../support/markdown.ts';

/** docs/architecture.md's table: folder -> the folders it may import. */
function allowed(): Map<string, Set<string>> {
  const [header, ...rows] = tableUnder(readDoc('docs/architecture.md'), 'Which way imports go');
  assert.deepEqual(header, ['folder', 'may import']);
  return new Map(rows.map(([folder = '', imports = '']) => [codeSpans(folder)[0]!, new Set(codeSpans(imports))]));
}

const SRC = join(packageRoot(), 'src');

test('every import of src/ goes a way docs/architecture.md allows', () => {
  const rules = allowed();
  const edges = importEdges(SRC);
  assert.ok(edges.length > 50, `only ${edges.length} imports between folders found: the scan is broken`);
  assert.deepEqual(violations(edges, rules), []);
});

test('every folder of src/ has a row, and every row names a folder', () => {
  const rules = allowed();
  const present = new Set(folders(SRC));
  assert.deepEqual([...present].filter((folder) => !rules.has(folder)), [], 'folders without a row');
  assert.deepEqual([...rules.keys()].filter((folder) => !present.has(folder)), [], 'rows without a folder');
  for (const [folder, imports] of rules) {
    assert.deepEqual([...imports].filter((target) => !present.has(target)), [], `${folder} may import unknown folders`);
  }
});

test('sources and executors never import each other; only the CLI imports the agent', () => {
  const rules = allowed();
  assert.equal(rules.get('sources')?.has('executors'), false);
  assert.equal(rules.get('executors')?.has('sources'), false);
  const importers = [...rules].filter(([, imports]) => imports.has('agent')).map(([folder]) => folder);
  assert.deepEqual(importers, ['cli']);
});

test('the check reports the imports that broke the layering before src/job existed', () => {
  const rules = allowed();
  const edge = (from: string, to: string, target: string): Edge => ({ from, to, file: `src/${from}/x.ts`, target, typeOnly: false });
  const broken = [
    edge('sources', 'executors', 'src/executors/job.ts'),
    edge('sources', 'executors', 'src/executors/shell.ts'),
    edge('sources', 'agent', 'src/agent/agent.ts'),
    edge('executors', 'sources', 'src/sources/source.ts'),
    edge('telemetry', 'agent', 'src/agent/agent.ts'),
    edge('telemetry', 'sources', 'src/sources/gitlab/api.ts'),
    edge('agent', 'executors', 'src/executors/process-group.ts'),
    edge('job', 'build', 'src/build/build.ts'),
    edge('server', 'agent', 'src/agent/agent.ts'),
  ];
  const found = violations(broken, rules);
  assert.equal(found.length, broken.length, found.join('\n'));
  assert.match(found[0]!, /^src\/sources\/x\.ts imports src\/executors\/job\.ts: sources may not import executors$/);
});

test('the shared vocabulary takes only types from the configuration: src/job runs no code of another folder', () => {
  const edges = importEdges(SRC).filter((edge) => edge.from === 'job');
  assert.ok(edges.length > 0);
  assert.deepEqual(edges.filter((edge) => !edge.typeOnly).map((edge) => `${edge.file} -> ${edge.target}`), []);
});
