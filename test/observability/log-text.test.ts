import t from 'tap';
import { formatLogLine } from '../../src/observability/log-text.js';
import { InvalidLogFormatError, logFormatOf } from '../../src/observability/logger.js';

t.test('renders a pino JSON line for a human', async (t) => {
  const cases: Array<[string, Record<string, unknown> | string, string]> = [
    [
      'component, part, message and fields',
      { level: 30, time: '2026-11-22T01:50:03.214Z', app: 'barelb', component: 'controller', part: 'election', msg: 'became leader', identity: 'ctl-1' },
      '01:50:03.214 INFO  controller/election  became leader identity=ctl-1',
    ],
    [
      'values with spaces are quoted, objects are JSON',
      { level: 40, time: '2026-11-22T01:50:03.214Z', component: 'speaker', msg: 'conflict', reason: 'two hosts', ips: ['a', 'b'], n: 3 },
      '01:50:03.214 WARN  speaker  conflict reason="two hosts" ips=["a","b"] n=3',
    ],
    ['an unknown level is shown as is', { level: 35, msg: 'x' }, '35     x'],
    ['not JSON: passed through', 'plain text line', 'plain text line'],
    ['JSON but not an object: passed through', '[1,2]', '[1,2]'],
  ];
  for (const [name, input, want] of cases) t.equal(formatLogLine(typeof input === 'string' ? input : JSON.stringify(input)), want, name);
});

t.test('a serialised error shows its message, then its stack indented', async (t) => {
  const line = JSON.stringify({ level: 50, msg: 'list failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } });
  t.equal(formatLogLine(line), 'ERROR  list failed err="boom"\n    Error: boom\n        at x');
});

t.test('format comes from the flag, else BARELB_LOG_FORMAT, else json', async (t) => {
  t.equal(logFormatOf(undefined, {}), 'json');
  t.equal(logFormatOf(undefined, { BARELB_LOG_FORMAT: 'text' }), 'text');
  t.equal(logFormatOf('json', { BARELB_LOG_FORMAT: 'text' }), 'json');
  t.throws(() => logFormatOf('pretty', {}), new InvalidLogFormatError('pretty', '--log-format'));
  t.throws(() => logFormatOf(undefined, { BARELB_LOG_FORMAT: 'yaml' }), /BARELB_LOG_FORMAT "yaml": expected one of json, text/);
});
