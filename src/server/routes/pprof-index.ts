// The HTML index of /debug/pprof/, saying what each profile is and what this
// runtime can and cannot see.
import type { HeapSource } from '../../profiling/profilers.ts';
import { cpuSamplingIntervalMicros, runtime } from '../../runtime/runtime.ts';

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Entry {
  readonly name: string;
  readonly href: string;
  readonly text?: string;
  readonly about: string;
}

function entries(heap: HeapSource): Entry[] {
  const list: Entry[] = [
    {
      name: 'profile',
      href: 'profile?seconds=30',
      about: `CPU profile of the runner's JavaScript over ?seconds=N (default 30), sampled at ${1e6 / cpuSamplingIntervalMicros} Hz. One at a time.`,
    },
  ];
  const v8Note = "V8's sampling heap profiler does not see Buffer and ArrayBuffer backing stores.";
  if (heap.kind === 'sampling') {
    list.push(
      {
        name: 'heap',
        href: 'heap',
        text: 'heap?debug=1',
        about:
          `Live heap by allocation stack, sampled from process start every ${heap.sampler.intervalBytes} bytes on average (?gc=1 collects garbage first). ${v8Note}`,
      },
      {
        name: 'allocs',
        href: 'allocs?seconds=30',
        text: 'allocs?debug=1',
        about:
          `Allocations by stack over ?seconds=N (default 30), collected objects included. The in-use heap sampler pauses during the window and restarts after it, so /heap only shows what was allocated since. ${v8Note}`,
      },
    );
  } else if (heap.kind === 'snapshot') {
    list.push({
      name: 'heap',
      href: 'heap',
      text: 'heap?debug=1',
      about:
        `Live objects by type from a heap snapshot, with no allocation stacks: ${runtime.name} has no sampling heap profiler. (?gc=1 collects garbage first.) Allocation profiles (allocs) are not available on ${runtime.name}.`,
    });
  }
  list.push({ name: 'cmdline', href: 'cmdline', about: 'The command line of this process, arguments separated by NUL bytes.' });
  return list;
}

export function pprofIndexHtml(heap: HeapSource): string {
  const rows = entries(heap).map((e) =>
    `<tr><td><a href="${escapeHtml(e.href)}">${escapeHtml(e.name)}</a></td>` +
    `<td>${e.text ? `<a href="${escapeHtml(e.text)}">text</a>` : ''}</td><td>${escapeHtml(e.about)}</td></tr>`
  );
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>/debug/pprof/</title></head>
<body>
<h1>/debug/pprof/</h1>
<p>Profiles of this runner (${escapeHtml(`${runtime.name} ${runtime.version}`)}), readable by <code>go tool pprof http://HOST:PORT/debug/pprof/NAME</code>.</p>
${heap.kind === 'none' ? `<p>No heap profiles: ${escapeHtml(heap.reason)}.</p>` : ''}
<table>
<tr><th>profile</th><th>text</th><th>what it is</th></tr>
${rows.join('\n')}
</table>
</body></html>
`;
}
