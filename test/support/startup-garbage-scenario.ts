// A process that leaves a start's kind of leftovers - code compiled for functions run once, and
// many small objects that lived a while and were then dropped - and prints what it holds before and
// after releaseStartupGarbage() (src/runtime/gc.ts), with what that call did: its resident memory,
// and on Bun the JavaScriptCore code blocks (what Bun.shrink() drops). test/unit/runtime/gc.test.ts
// reads it.
import { readFileSync } from 'node:fs';
import { releaseStartupGarbage } from '../../src/runtime/gc.ts';
import { runtime } from '../../src/runtime/runtime.ts';

function residentBytes(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) * 1024;
}

const jsc = runtime.name === 'bun' ? await import('bun:jsc' as string) as { heapStats(): { objectTypeCounts: Record<string, number> } } : undefined;
function codeBlocks(): number | null {
  if (jsc === undefined) return null;
  const counts = jsc.heapStats().objectTypeCounts;
  return (counts['FunctionCodeBlock'] ?? 0) + (counts['UnlinkedFunctionCodeBlock'] ?? 0);
}

const functions: ((a: number) => number)[] = [];
for (let i = 0; i < 2000; i++) functions.push(new Function('a', `return a + ${i} * 2 + String(a).length;`) as (a: number) => number);
let sum = 0;
for (const f of functions) sum += f(1);
let kept: { index: number; name: string; tags: string[] }[] | undefined = [];
for (let i = 0; i < 400_000; i++) kept.push({ index: i, name: `entry-${i}`, tags: [`t${i % 97}`, `u${i}`] });
// Lived through a few turns of the event loop, as a start's objects do, then dropped.
await new Promise((resolve) => setTimeout(resolve, 50));
const count = kept.length;
kept = undefined;
const before = { resident: residentBytes(), codeBlocks: codeBlocks() };
const did = releaseStartupGarbage();
// Bun shrinks once no JavaScript is on the stack, and returns the pages within about half a second.
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(JSON.stringify({ count, sum, did: did ?? null, before, after: { resident: residentBytes(), codeBlocks: codeBlocks() } }));
