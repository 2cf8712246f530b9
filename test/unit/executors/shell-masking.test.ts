// A real job's log through GitLab Runner's filters: masked values, token
// prefixes (FF_MASK_ALL_DEFAULT_TOKENS), credential URL parameters, and the
// time prefixes of FF_TIMESTAMPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobFeatures } from '../../../src/job/model.ts';
import { DEFAULT_TOKEN_PREFIXES } from '../../../src/trace/token-masker.ts';
import { closingLine, logLines, plain, run, stageLines } from '../../support/shell-run.ts';

const features = (fields: Partial<JobFeatures>): JobFeatures => ({ traceSections: false, timestamps: false, tokenMaskPrefixes: [], ...fields });

test('masked values never reach the log: not in echo lines, not in output, not split across writes', async () => {
  const { result, log } = await run({
    variables: [
      { key: 'SECRET', value: 's3cretvalue', masked: true },
      { key: 'PLAIN', value: 'visible', masked: false },
    ],
    script: [
      'echo $SECRET',
      'echo "literal s3cretvalue"',
      "printf s3cr; sleep 0.2; printf 'etvalue\\n'",
      'echo $PLAIN >&2',
    ],
    afterScript: ['echo "after s3cretvalue $SECRET"'],
  });
  assert.equal(result.state, 'success');
  assert.deepEqual(stageLines(log, 'step_script'), [
    '$ echo $SECRET',
    '[MASKED]',
    '$ echo "literal [MASKED]"',
    'literal [MASKED]',
    "$ printf s3cr; sleep 0.2; printf 'etvalue\\n'",
    '[MASKED]',
    '$ echo $PLAIN >&2',
    'visible',
  ]);
  assert.deepEqual(stageLines(log, 'after_script'), ['Running after script...', '$ echo "after [MASKED] $SECRET"', 'after [MASKED] [MASKED]']);
  assert.ok(!log.includes('s3cret'));
});

test("tokens are masked by their prefix: all of GitLab's by default, only glpat- with FF_MASK_ALL_DEFAULT_TOKENS=false", async () => {
  const tokens = DEFAULT_TOKEN_PREFIXES.map((prefix) => `${prefix}T0ken_value.x`);
  const script = ['echo "$TOKENS"', 'echo "custom mytok-abc123"'];
  const variables = [{ key: 'TOKENS', value: tokens.join(' '), masked: false }];

  const all = await run({ script, variables, features: features({ tokenMaskPrefixes: ['mytok-'] }) });
  assert.equal(all.result.state, 'success', plain(all.log));
  const allLines = stageLines(all.log, 'step_script');
  assert.equal(allLines[1], DEFAULT_TOKEN_PREFIXES.map((prefix) => `${prefix}[MASKED]`).join(' '));
  assert.equal(allLines[3], 'custom mytok-[MASKED]');
  assert.ok(!all.log.includes('T0ken_value'));

  const onlyPat = await run({ script, variables: [...variables, { key: 'FF_MASK_ALL_DEFAULT_TOKENS', value: 'false', masked: false }] });
  assert.equal(onlyPat.result.state, 'success', plain(onlyPat.log));
  const patLines = stageLines(onlyPat.log, 'step_script');
  assert.equal(patLines[1], tokens.map((token) => (token.startsWith('glpat-') ? 'glpat-[MASKED]' : token)).join(' '));
  assert.equal(patLines[3], 'custom mytok-abc123');
  assert.ok(logLines(onlyPat.log).includes('  feature flags: FF_MASK_ALL_DEFAULT_TOKENS:false'), plain(onlyPat.log));
});

test("credential parameters of URLs are masked, as GitLab Runner's URL sanitizer does; user:password@ is not its business", async () => {
  const { result, log } = await run({
    script: [
      'echo "https://example.com/api?private_token=abc123&page=2"',
      'echo "https://s3.example.com/o?X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=deadbeef done"',
      'echo "https://user:password@example.com/repo.git"',
    ],
  });
  assert.equal(result.state, 'success', plain(log));
  assert.deepEqual(stageLines(log, 'step_script').filter((line) => !line.startsWith('$ ')), [
    'https://example.com/api?private_token=[MASKED]&page=2',
    'https://s3.example.com/o?X-Amz-Credential=[MASKED]&X-Amz-Signature=[MASKED] done',
    'https://user:password@example.com/repo.git',
  ]);
});

// GitLab marks the job's stderr E; this runner reads stdout and stderr as one stream, in order, so it may mark both O.
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (0[01])([OE])([ +])/;

test('FF_TIMESTAMPS: every line starts with its time and writer (00O the runner, 01O the job), as GitLab Runner writes them', async () => {
  const { result, log } = await run({
    script: ['echo out; echo err >&2', 'printf "no newline at the end"'],
    variables: [{ key: 'SECRET', value: 's3cretvalue', masked: true }],
    afterScript: ['echo "$SECRET"'],
    features: features({ timestamps: true }),
  });
  assert.equal(result.state, 'success', log);
  const lines = log.split('\n');
  assert.equal(lines.pop(), '', 'the log ends with a newline');
  for (const line of lines) assert.match(line, STAMP);
  const writers = lines.map((line) => {
    const [, id, type, flag] = STAMP.exec(line)!;
    return { id, type, flag, text: plain(line.replace(STAMP, '')) };
  });
  const byText = (text: string) => writers.find((line) => line.text === text);
  assert.equal(byText('Preparing environment')?.id, '00');
  assert.ok(writers.filter((line) => line.id === '00').every((line) => line.type === 'O'));
  assert.equal(byText('out')?.id, '01');
  assert.equal(byText('out')?.type, 'O');
  assert.equal(byText('err')?.id, '01');
  assert.equal(byText('$ echo out; echo err >&2')?.id, '01', "the echo lines come from the job's shell");
  // A stage's last line without a newline is closed when the stage ends.
  assert.equal(byText('no newline at the end')?.id, '01');
  assert.equal(byText('[MASKED]')?.id, '01');
  assert.equal(writers.at(-1)?.text, 'Job succeeded');
  assert.equal(writers.at(-1)?.id, '00');
  assert.ok(writers.every((line) => line.flag === ' '), 'no line was continued');
  assert.ok(!log.includes('s3cretvalue'));
  assert.equal(closingLine(log).replace(STAMP, ''), 'Job succeeded');
});
