import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { NftablesError, NodePortForwarder, removeLeftoverTable } from '../../src/speaker/nodeport-forwarder.js';

// The forwarder against a scripted `nft` on PATH: it records each script it is fed and answers as told
// (success, a refusal without CAP_NET_ADMIN, a syntax error), so no root and no kernel are needed.
const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-nft-'));
const calls = path.join(dir, 'calls');
const mode = path.join(dir, 'mode');
writeFileSync(
  path.join(dir, 'nft'),
  `#!/bin/sh
if [ "$1" = list ]; then
  [ -f "${dir}/table" ] || { echo "Error: No such file or directory" >&2; exit 1; }
  cat "${dir}/table"; exit 0
fi
cat >> "${calls}"; echo "#END" >> "${calls}"
case "$(cat "${mode}")" in
  ok) exit 0 ;;
  eperm) echo "Error: Could not process rule: Operation not permitted" >&2; exit 1 ;;
  *) echo "Error: syntax error, unexpected junk" >&2; exit 1 ;;
esac
`,
);
chmodSync(path.join(dir, 'nft'), 0o755);
const oldPath = process.env['PATH'];
process.env['PATH'] = `${dir}:${oldPath}`;
t.teardown(() => {
  process.env['PATH'] = oldPath;
  rmSync(dir, { recursive: true, force: true });
});
const log = pino({ level: 'silent' });
const scripts = (): string[] => readFileSync(calls, 'utf8').split('#END\n').filter(Boolean);
const reset = (m: string): void => {
  writeFileSync(mode, m);
  writeFileSync(calls, '');
};
const fwd = { vip: '198.51.100.200', protocol: 'tcp' as const, port: 80, nodeIp: '198.51.100.11', nodePort: 30080 };

t.test('nft runs only when the rules change, with the mark bit it was given', async (t) => {
  reset('ok');
  const f = new NodePortForwarder(log, 0x100);
  await f.apply([fwd]);
  await f.apply([fwd]);
  t.equal(scripts().length, 1, 'the same rules twice: one nft run');
  t.match(scripts()[0], /meta mark set meta mark or 0x100 /);
  await f.apply([{ ...fwd, nodePort: 30081 }]);
  t.equal(scripts().length, 2, 'changed rules: a second run');
});

t.test('verify: the table as installed is intact; deleted or edited outside barelb, the next apply installs it again', async (t) => {
  reset('ok');
  const table = path.join(dir, 'table');
  writeFileSync(table, 'table inet barelb {\n  chain pre {\n    ip daddr 198.51.100.200 tcp dport 80 counter packets 3 bytes 180 meta mark set\n  }\n}\n');
  const f = new NodePortForwarder(log);
  await f.apply([fwd]);
  writeFileSync(table, 'table inet barelb {\n  chain pre {\n    ip daddr 198.51.100.200 tcp dport 80 counter packets 99 bytes 5940 meta mark set\n  }\n}\n');
  t.equal(await f.verify(), true, 'counters moved: intact');
  writeFileSync(table, 'table inet barelb {\n  chain pre {\n  }\n}\n');
  t.equal(await f.verify(), false, 'a rule gone: not intact');
  await f.apply([fwd]);
  t.equal(scripts().length, 2, 'the same rules again: installed again');
  rmSync(table);
  t.equal(await f.verify(), false, 'the table deleted: not intact');
  await f.apply([fwd]);
  t.equal(scripts().length, 3, 'installed again');
  t.equal(await new NodePortForwarder(log).verify(), true, 'nothing applied yet: nothing to compare');
});

t.test('applies that overlap run one at a time, and the last one wins', async (t) => {
  reset('ok');
  const f = new NodePortForwarder(log);
  await Promise.all([f.apply([fwd]), f.apply([{ ...fwd, port: 81 }]), f.apply([{ ...fwd, port: 82 }])]);
  const last = scripts().at(-1) ?? '';
  t.match(last, /tcp dport 82 /, 'the table ends as the last call said');
  t.ok(scripts().length <= 3, `${scripts().length} nft runs`);
});

t.test('a refusal names CAP_NET_ADMIN; other failures carry nft\'s message; a later apply retries', async (t) => {
  reset('eperm');
  const f = new NodePortForwarder(log);
  const refused = await f.apply([fwd]).catch((e: unknown) => e);
  t.ok(refused instanceof NftablesError, 'an NftablesError');
  t.match((refused as Error).message, /needs CAP_NET_ADMIN/);
  reset('junk');
  const failed = await f.apply([fwd]).catch((e: unknown) => e);
  t.match((failed as Error).message, /nft failed: Error: syntax error/);
  reset('ok');
  await f.apply([fwd]);
  t.equal(scripts().length, 1, 'the same rules are tried again after a failure');
});

t.test('remove and the leftover cleanup delete only barelb\'s table, and never throw', async (t) => {
  reset('ok');
  await new NodePortForwarder(log).remove();
  t.equal(scripts()[0], 'table ip barelb\ndelete table ip barelb\ntable inet barelb\ndelete table inet barelb\n');
  reset('eperm');
  await removeLeftoverTable(log);
  await new NodePortForwarder(log).remove();
  t.equal(scripts().length, 2, 'both tried, neither threw');
});
