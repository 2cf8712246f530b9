// The traces a GitLab coordinator asks for (features.tracing), through the real CLI and the test
// coordinator: what a payload's endpoints get, and that nothing in a payload can stop the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { logText, runJob, startGitLabRunner, withoutSources } from './gitlab/harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';

/** features.tracing joining TRACE_ID under PARENT_SPAN_ID, sending to `urls`. */
function tracing(...urls: string[]): Record<string, unknown> {
  return { 'features.tracing': { trace_id: TRACE_ID, span_parent_id: PARENT_SPAN_ID, otel_endpoints: urls.map((url) => ({ url })) } };
}

test('a payload endpoint an exporter cannot take: the job succeeds untraced there, warned of, and the runner stays up', async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  const gitlab = await startGitLabRunner({ global: 'concurrent = 1\ncheck_interval = 0.2\n', env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
  t.after(() => gitlab.close());
  const bad = await runJob(
    gitlab.coordinator,
    withoutSources({ name: 'bad-endpoint', script: ['echo ran'], override: tracing('http://exa mple:4318/v1/traces?api_key=s3cret') }),
  );
  assert.equal(bad.state, 'success', logText(bad.trace));
  const text = logText(bad.trace);
  assert.ok(text.includes('features.tracing: endpoint "http://exa mple:4318/v1/traces": not a valid URL'), text);
  assert.ok(!text.includes('s3cret'), text);
  // The runner is still there, and a later job's spans still go where its payload says.
  const next = await runJob(gitlab.coordinator, withoutSources({ name: 'next', script: ['true'], override: tracing(`${receiver.endpoint}/v1/traces`) }));
  assert.equal(next.state, 'success');
  await receiver.waitFor(() => receiver.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === String(next.id)));
  assert.ok(!gitlab.runner.exited, gitlab.runner.tail());
  assert.doesNotMatch(gitlab.runner.logs(), /Unhandled|uncaught/i);
});
