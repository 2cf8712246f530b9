// Every link in the README and docs/ leads somewhere: the file exists, and an
// #anchor names a heading of the page it points to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { packageRoot } from '../../src/version.ts';
import { anchors, links, readDoc } from '../support/markdown.ts';

const root = packageRoot();
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

test('the docs have a page for each topic the README links', () => {
  const linked = links(readDoc('README.md')).filter((target) => target.startsWith('docs/')).map((target) => target.split('#')[0]);
  for (const topic of ['configuration', 'jobs', 'gitlab', 'metrics', 'profiling', 'monitoring-kit', 'security', 'benchmarks', 'development', 'architecture']) {
    assert.ok(linked.includes(`docs/${topic}.md`), `README links docs/${topic}.md`);
  }
});

for (const page of pages) {
  test(`every relative link of ${page} resolves`, () => {
    const broken: string[] = [];
    for (const target of links(readDoc(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? page : normalize(join(dirname(page), path));
      if (!existsSync(join(root, file))) {
        broken.push(`${target}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined && file.endsWith('.md') && !anchors(readDoc(file)).has(anchor)) {
        broken.push(`${target}: no heading with the anchor #${anchor} in ${file}`);
      }
    }
    assert.deepEqual(broken, []);
  });
}
