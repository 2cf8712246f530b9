// The OTLP job tracing as the agent meets it: whatever a job's payload names, starting its trace
// never throws, and a failure is logged once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../../src/job/model.ts';
import type { SourceJob } from '../../../src/job/source.ts';
import { spanBatchSettings } from '../../../src/telemetry/otlp-settings.ts';
import { otlpTracing } from '../../../src/telemetry/otlp-traces.ts';

/** A job whose coordinator sends its spans to `endpoints` (as features.tracing would, unchecked). */
function joinedJob(id: string, endpoints: string[]): SourceJob {
  const traceContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', traceFlags: 1, endpoints };
  const job = { id, name: 'j', script: ['true'], beforeScript: [], afterScript: [], timeoutSeconds: 60, variables: [], traceContext } as unknown as Job;
  return {
    id,
    name: 'j',
    url: `https://gitlab.example/g/p/-/jobs/${id}`,
    job,
    begin: () => Promise.reject(new Error('unused')),
    finish: () => Promise.resolve(),
  };
}

test('an endpoint no exporter can take: the job is untraced, the first such failure logged, nothing thrown', async () => {
  const warnings: string[] = [];
  const tracing = otlpTracing(undefined, spanBatchSettings({}), { warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`) });
  const runner = { name: 'r', systemId: 's_0123456789ab' };
  assert.equal(tracing.tracer.startJob(runner, joinedJob('1', ['http://exa mple:4318/v1/traces'])), undefined);
  assert.equal(tracing.tracer.startJob(runner, joinedJob('2', ['http://exa mple:4318/v1/traces'])), undefined);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^A job's trace could not be started: the job runs untraced; later such failures are not logged \{"job":"1","error":/);
  // A job with endpoints that work is traced as ever.
  const traced = tracing.tracer.startJob(runner, joinedJob('3', ['http://127.0.0.1:9/v1/traces']));
  assert.ok(traced !== undefined);
  await tracing.shutdown();
});
