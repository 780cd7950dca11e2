import t from 'tap';
import {
  deleteNamespace,
  apply, eventually, fetchFromClient, ingressIp, kubectl, lab, metricOfLabel, serviceYaml, settledHolder, speakerKubeconfig, speakerReady, startLab, startSpeaker, type Proc,
} from '../../testkit/lab.js';

// A speaker restarted with its clock an hour behind (issue 16, item 4): a Raspberry Pi without an RTC
// before NTP, an NTP step back. Its incarnation is its start time, so it is lower than the one it
// replaces; peers used to refuse it until every one of them restarted. Run under libfaketime.
const NS = 'e2e-clock-behind';
/** Debian's faketime package (scripts/install-deps.sh installs it). */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';

let speakers: Map<string, Proc>;
t.before(async () => {
  speakers = await startLab(t, { namespace: NS, pool: POOL });
});

t.teardown(async () => {
  await deleteNamespace(NS);
});

const peersLive = (node: string): Promise<number> => metricOfLabel(node, 'barelb_peers_live', 'interface="eth0"');

t.test('restarted with its clock an hour behind, a speaker is heard again and takes over like any other', async (t) => {
  await apply(serviceYaml({ name: 'behind', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ip = await ingressIp(NS, 'behind');
  const holder = await settledHolder(ip);
  const behind = lab.nodes.find((n) => n !== holder) as string;
  const others = lab.nodes.filter((n) => n !== behind);
  for (const n of lab.nodes) await eventually(`${n} to hear both peers`, 10_000, async () => ((await peersLive(n)) === 2 ? true : undefined));

  await (speakers.get(behind) as Proc).kill('SIGTERM');
  speakers.set(behind, startSpeaker(t, behind, [], await speakerKubeconfig(), { LD_PRELOAD: LIBFAKETIME, FAKETIME: '-1h' }));
  await speakerReady(behind);
  const incarnation = Number(
    await eventually(`${behind}'s new Lease`, 15_000, async () => {
      const v = await kubectl(['get', 'lease', '-n', 'barelb-speakers', `barelb-speaker-${behind}`, '-o', 'jsonpath={.metadata.annotations.barelb\\.io/incarnation}']).catch(() => '');
      return Number(v) > 0 && Number(v) < Date.now() - 30 * 60_000 ? v : undefined;
    }),
  );
  t.ok(incarnation < Date.now() - 30 * 60_000, `its incarnation (its start time by its clock) is an hour behind: ${new Date(incarnation).toISOString()}`);
  for (const n of others) {
    t.ok(await eventually(`${n} to hear ${behind} again`, 10_000, async () => ((await peersLive(n)) === 2 ? true : undefined)), `${n} hears ${behind} (clock an hour behind)`);
  }
  t.ok(await eventually(`${behind} to hear its peers`, 10_000, async () => ((await peersLive(behind)) === 2 ? true : undefined)), `${behind} hears both peers`);

  // It takes part: with the holder gone, the VIP goes to one of the two left, and answers.
  await (speakers.get(holder) as Proc).kill('SIGTERM');
  const next = await settledHolder(ip);
  t.not(next, holder, `taken over by ${next}`);
  t.ok(await eventually(`a response through ${ip}`, 10_000, () => fetchFromClient(`http://${ip}/`)), 'and served');
});
