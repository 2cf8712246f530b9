// The finished job tells the job metrics which span it ran under (the job duration's exemplar
// links to it): the job span's ids when the job was traced and its span sampled, else nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, type Sampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Agent } from '../../../src/agent/agent.ts';
import { type Config, DEFAULT_CONFIG, DEFAULT_RUNNER } from '../../../src/config/types.ts';
import type { JobTracer } from '../../../src/job/job-trace.ts';
import type { FinishedJob } from '../../../src/job/status.ts';
import { Logger } from '../../../src/log/logger.ts';
import { jobTracer } from '../../../src/telemetry/job-tracing.ts';
import { FakeExecutor, fakeJob, FakeSources, until } from '../../support/fakes.ts';

const CONFIG: Config = { ...DEFAULT_CONFIG, checkInterval: 0.05, runners: [{ ...DEFAULT_RUNNER, name: 'a' }] };

/** Runs one job that succeeds through an agent with `tracer`; resolves with what the agent told of its end. */
async function finishedJob(tracer: JobTracer | undefined, logged: string[] = []): Promise<FinishedJob> {
  const sources = new FakeSources();
  const executor = new FakeExecutor();
  const finished: FinishedJob[] = [];
  const logger = new Logger('info', 'text', { write: (line: string) => void logged.push(line) });
  const agent = new Agent(CONFIG, { logger, sources, executors: executor, tracer, systemId: 's_0123456789ab', onJobFinished: (job) => finished.push(job) });
  executor.onRun = (run) => run.exit(0);
  sources.of('a').add(fakeJob('1'));
  agent.start();
  try {
    await until('the job finished', () => finished.length === 1);
  } finally {
    await agent.stop('cancel');
  }
  return finished[0]!;
}

function tracing(sampler?: Sampler): { exporter: InMemorySpanExporter; tracer: JobTracer } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)], ...(sampler === undefined ? {} : { sampler }) });
  const tracer = provider.getTracer('test');
  return { exporter, tracer: jobTracer(() => ({ tracer }), (error) => assert.fail(String(error))) };
}

test("a traced job's end carries its job span's trace and span ids", async () => {
  const { exporter, tracer } = tracing();
  const job = await finishedJob(tracer);
  assert.equal(job.result.state, 'success');
  const span = exporter.getFinishedSpans().find((s) => s.parentSpanContext === undefined);
  assert.ok(span !== undefined, 'the job span was sent');
  assert.deepEqual(job.span, { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
  assert.match(job.span?.traceId ?? '', /^[0-9a-f]{32}$/);
  assert.match(job.span?.spanId ?? '', /^[0-9a-f]{16}$/);
});

test('a job not traced, or whose span the sampler dropped, carries no span', async () => {
  assert.equal((await finishedJob(undefined)).span, undefined);
  const { exporter, tracer } = tracing(new AlwaysOffSampler());
  assert.equal((await finishedJob(tracer)).span, undefined);
  assert.deepEqual(exporter.getFinishedSpans(), [], 'nothing was sent that a link could lead to');
});

test('a tracer that throws never fails the job: it runs untraced, and the agent says why', async () => {
  const logged: string[] = [];
  const broken: JobTracer = {
    startJob: () => {
      throw new Error('OTLP certificate /etc/gone.pem: ENOENT');
    },
  };
  const job = await finishedJob(broken, logged);
  assert.equal(job.result.state, 'success');
  assert.equal(job.span, undefined);
  assert.ok(logged.some((line) => line.includes('The job could not be traced') && line.includes('/etc/gone.pem')), logged.join(''));
});
