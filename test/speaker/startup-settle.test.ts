import t from 'tap';
import { DEFAULT_ANNOUNCE } from '../../src/config/types.js';
import type { NodeFacts } from '../../src/k8s/node-facts.js';
import { awaitedSpeakers, type SettleInput } from '../../src/speaker/startup-settle.js';

const nodes: NodeFacts[] = [
  { name: 'node1', labels: {} },
  { name: 'node2', labels: {} },
  { name: 'node3', labels: {} },
];
const base: SettleInput = { nowMs: 1_000, startedAtMs: 0, settleMs: 10_000, self: 'node1', nodes, announce: DEFAULT_ANNOUNCE, heard: new Set() };

t.test('free addresses wait for the speakers of every Node that could announce, for the settle time at most', async (t) => {
  const rows: [string, Partial<SettleInput>, string[]][] = [
    ['just started, nobody heard: waits for both peers', {}, ['node2', 'node3']],
    ['one heard', { heard: new Set(['node2']) }, ['node3']],
    ['every one heard: settled', { heard: new Set(['node2', 'node3']) }, []],
    ['the settle time is over: settled, heard or not', { nowMs: 10_000 }, []],
    ['settle time 0: never waits', { settleMs: 0 }, []],
    ['alone in the cluster: nothing to wait for', { nodes: [{ name: 'node1', labels: {} }] }, []],
    ['a NotReady Node is not waited for', { nodes: [...nodes.slice(0, 2), { name: 'node3', labels: {}, ready: false }], heard: new Set(['node2']) }, []],
    ['a Node that says nothing of readiness is', { nodes: [...nodes.slice(0, 2), { name: 'node3', labels: {} }], heard: new Set(['node2']) }, ['node3']],
    ['an excluded Node is not', { nodes: [...nodes.slice(0, 2), { name: 'node3', labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } }], heard: new Set(['node2']) }, []],
    ['a Node outside announce.nodeSelector is not', { announce: { ...DEFAULT_ANNOUNCE, nodeSelector: { matchLabels: { lb: 'yes' }, matchExpressions: [] } }, nodes: [{ name: 'node1', labels: { lb: 'yes' } }, { name: 'node2', labels: {} }] }, []],
  ];
  for (const [name, extra, want] of rows) t.same(awaitedSpeakers({ ...base, ...extra }), want, name);
});
