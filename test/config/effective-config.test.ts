import t from 'tap';
import { InvalidConfigError } from '../../src/config/config-error.js';
import type { LoadedConfig } from '../../src/config/config-loader.js';
import { chooseConfig } from '../../src/config/effective-config.js';
import { EMPTY_CONFIG } from '../../src/config/types.js';
import { pool } from '../fixtures.js';

const good: LoadedConfig = { ok: true, config: { ...EMPTY_CONFIG, pools: [pool('lan', ['198.51.100.200/29'])] }, source: 'v2', warnings: [] };
const bad: LoadedConfig = { ok: false, error: new InvalidConfigError([{ path: 'pools', pool: undefined, value: 1, message: 'not a list' }]), source: 'v3' };
const record = { config: { ...EMPTY_CONFIG, pools: [pool('old', ['198.51.100.240/29'])] }, note: 'v1' };

t.test('which config a program runs on', async (t) => {
  const rows: [string, LoadedConfig, boolean, typeof record | undefined, string][] = [
    ['valid: used as read', good, false, record, 'loaded'],
    ['valid, already running: used as read', good, true, undefined, 'loaded'],
    ['invalid, running on a good one: kept', bad, true, record, 'kept'],
    ['invalid, fresh, a record: the recorded one', bad, false, record, 'recorded'],
    ['invalid, fresh, no record: nothing', bad, false, undefined, 'none'],
  ];
  for (const [name, loaded, running, rec, use] of rows) t.equal(chooseConfig(loaded, running, rec).use, use, name);
  t.same(chooseConfig(good, false, record), { use: 'loaded', config: good.ok ? good.config : undefined });
  t.same(chooseConfig(bad, false, record), { use: 'recorded', config: record.config, record }, 'the record comes along for the message');
});
