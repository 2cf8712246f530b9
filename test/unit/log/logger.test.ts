import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../../src/log/logger.ts';

function capture(format: 'text' | 'json', level: 'info' | 'warn' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger(level, format, { write: (line) => lines.push(line) }), lines };
}

test('text lines carry time, level, message and key=value fields, quoted when needed', () => {
  const { logger, lines } = capture('text');
  logger.info('Metrics server listening', { address: '127.0.0.1:9252', note: 'two words', skipped: undefined });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\S+Z INFO {2}Metrics server listening {2}address=127\.0\.0\.1:9252 note="two words"\n$/);
});

test('json lines are one object each with time, level and msg', () => {
  const { logger, lines } = capture('json');
  logger.warn('odd', { key: 'x', n: 3 });
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(entry['level'], 'warn');
  assert.equal(entry['msg'], 'odd');
  assert.equal(entry['key'], 'x');
  assert.equal(entry['n'], 3);
});

test('entries below the level are dropped', () => {
  const { logger, lines } = capture('text', 'warn');
  logger.info('hidden');
  logger.debug('hidden');
  logger.error('shown');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /ERROR shown/);
});

test('control characters cannot forge a log line or reach the terminal', () => {
  const { logger, lines } = capture('text');
  logger.warn('unknown key evil\n2026-01-01T00:00:00Z ERROR fake\u001b[31m', { value: 'a\nb', esc: 'x\u001by' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.split('\n').length, 2, 'one line and its newline');
  assert.ok(!lines[0]!.includes('\u001b'));
  assert.ok(lines[0]!.includes('evil\\n2026'));
  assert.ok(lines[0]!.includes('value="a\\nb"'));
});
