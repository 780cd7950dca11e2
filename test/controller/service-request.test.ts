import t from 'tap';
import { readRequest } from '../../src/controller/service-request.js';
import { handles } from '../../src/k8s/service-view.js';
import { view } from '../fixtures.js';

t.test('handles: LoadBalancer Services of no class or ours', async (t) => {
  const rows: [Parameters<typeof view>[1], boolean][] = [
    [{}, true],
    [{ loadBalancerClass: 'mine' }, true],
    [{ loadBalancerClass: 'theirs' }, false],
    [{ type: 'NodePort' }, false],
    [{ type: 'ClusterIP' }, false],
  ];
  for (const [extra, want] of rows) t.equal(handles(view('s', extra), 'mine'), want, JSON.stringify(extra));
});

t.test('readRequest: what a Service asks for', async (t) => {
  const rows: { name: string; extra: Parameters<typeof view>[1]; want: Record<string, unknown>; error?: RegExp }[] = [
    { name: 'defaults', extra: {}, want: { pool: undefined, requestedIps: [], families: ['IPv4'], familyPolicy: 'SingleStack', sharingKey: undefined, ports: ['TCP/80'] } },
    { name: 'pool annotation', extra: { annotations: { 'barelb.io/address-pool': ' lan ' } }, want: { pool: 'lan' } },
    { name: 'bad pool name', extra: { annotations: { 'barelb.io/address-pool': 'Not_A_Label' } }, want: { pool: undefined }, error: /address-pool "Not_A_Label": is not a pool name/ },
    { name: 'two addresses', extra: { annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.1, 2001:db8::1' } }, want: { requestedIps: ['198.51.100.1', '2001:db8::1'] } },
    { name: 'spec.loadBalancerIP', extra: { loadBalancerIP: '198.51.100.7' }, want: { requestedIps: ['198.51.100.7'] } },
    { name: 'annotation agrees with spec', extra: { loadBalancerIP: '198.51.100.7', annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.7' } }, want: { requestedIps: ['198.51.100.7'] } },
    { name: 'annotation contradicts spec', extra: { loadBalancerIP: '198.51.100.8', annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.7' } }, want: {}, error: /spec.loadBalancerIP "198.51.100.8": contradicts/ },
    { name: 'not an address', extra: { annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.300' } }, want: { requestedIps: [] }, error: /"198.51.100.300" is not an IP address/ },
    { name: 'two of one family', extra: { annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.1,198.51.100.2' } }, want: { requestedIps: [] }, error: /at most one address per IP family/ },
    { name: 'three addresses', extra: { annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.1,198.51.100.2,2001:db8::1' } }, want: { requestedIps: [] }, error: /at most one IPv4 and one IPv6/ },
    { name: 'sharing key', extra: { annotations: { 'barelb.io/allow-shared-ip': 'web' } }, want: { sharingKey: 'web' } },
    { name: 'bad sharing key', extra: { annotations: { 'barelb.io/allow-shared-ip': 'a key with spaces' } }, want: { sharingKey: undefined }, error: /allow-shared-ip/ },
    { name: 'families from spec', extra: { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' }, want: { families: ['IPv6', 'IPv4'], familyPolicy: 'PreferDualStack' } },
    { name: 'no families (old cluster): from the requested address', extra: { ipFamilies: [], ipFamilyPolicy: undefined, loadBalancerIP: '2001:db8::5' }, want: { families: ['IPv6'], familyPolicy: 'SingleStack' } },
    { name: 'ports deduplicated', extra: { ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 80 }, { protocol: 'TCP', port: 80 }] }, want: { ports: ['TCP/80', 'UDP/80'] } },
  ];
  for (const row of rows) {
    const { request, error } = readRequest(view('s', row.extra));
    const got = { ...request, requestedIps: request.requestedIps.map(String) };
    t.match(got, row.want, row.name);
    if (row.error) t.match(error?.message, row.error, `${row.name}: error`);
    else t.equal(error, undefined, `${row.name}: no error`);
  }
});

t.test('readRequest: MetalLB and kube-vip annotations are read as barelb\'s own, which wins when both are set', async (t) => {
  const rows: { name: string; annotations: Record<string, string>; want: Record<string, unknown>; aliases: string[]; error?: RegExp }[] = [
    { name: 'metallb.io pool', annotations: { 'metallb.io/address-pool': 'lan' }, want: { pool: 'lan' }, aliases: ['metallb.io/address-pool as barelb.io/address-pool'] },
    { name: 'deprecated metallb.universe.tf pool', annotations: { 'metallb.universe.tf/address-pool': 'lan' }, want: { pool: 'lan' }, aliases: ['metallb.universe.tf/address-pool as barelb.io/address-pool'] },
    { name: 'metallb.io beats metallb.universe.tf', annotations: { 'metallb.universe.tf/address-pool': 'old', 'metallb.io/address-pool': 'new' }, want: { pool: 'new' }, aliases: ['metallb.io/address-pool as barelb.io/address-pool'] },
    { name: "barelb's own wins", annotations: { 'metallb.io/address-pool': 'theirs', 'barelb.io/address-pool': 'ours' }, want: { pool: 'ours' }, aliases: [] },
    { name: 'MetalLB addresses', annotations: { 'metallb.io/loadBalancerIPs': '198.51.100.7' }, want: { requestedIps: ['198.51.100.7'] }, aliases: ['metallb.io/loadBalancerIPs as barelb.io/loadBalancerIPs'] },
    { name: 'kube-vip addresses', annotations: { 'kube-vip.io/loadbalancerIPs': '198.51.100.8' }, want: { requestedIps: ['198.51.100.8'] }, aliases: ['kube-vip.io/loadbalancerIPs as barelb.io/loadBalancerIPs'] },
    { name: 'MetalLB sharing key', annotations: { 'metallb.universe.tf/allow-shared-ip': 'web' }, want: { sharingKey: 'web' }, aliases: ['metallb.universe.tf/allow-shared-ip as barelb.io/allow-shared-ip'] },
    { name: 'an invalid alias is named in the error', annotations: { 'metallb.io/address-pool': 'Not_A_Label' }, want: { pool: undefined }, aliases: ['metallb.io/address-pool as barelb.io/address-pool'], error: /annotation metallb\.io\/address-pool "Not_A_Label"/ },
  ];
  for (const row of rows) {
    const { request, error, aliases } = readRequest(view('s', { annotations: row.annotations }));
    t.match({ ...request, requestedIps: request.requestedIps.map(String) }, row.want, row.name);
    t.same(aliases.map((a) => `${a.read} as ${a.as}`), row.aliases, `${row.name}: aliases read`);
    if (row.error) t.match(error?.message, row.error, `${row.name}: error`);
    else t.equal(error, undefined, `${row.name}: no error`);
  }
});

t.test('readRequest: huge or binary values are shortened in the error, so the reason survives the 1,024-character Event limit', async (t) => {
  const huge = 'k'.repeat(200_000);
  const rows: [what: string, annotations: Record<string, string>, loadBalancerIP: string | undefined, reason: RegExp][] = [
    ['huge sharing key', { 'barelb.io/allow-shared-ip': huge }, undefined, /^annotation barelb\.io\/allow-shared-ip "k{60}\.\.\. \(200000 characters\)": must be letters/],
    ['huge pool name', { 'barelb.io/address-pool': huge }, undefined, /^annotation barelb\.io\/address-pool "k{60}\.\.\. \(200000 characters\)": is not a pool name/],
    ['huge address list', { 'barelb.io/loadBalancerIPs': `${'1.'.repeat(100_000)}1` }, undefined, /^annotation barelb\.io\/loadBalancerIPs "(1\.){30}\.\.\. \(200001 characters\)": "(1\.){30}\.\.\. \(200001 characters\)" is not an IP address$/],
    ['huge spec.loadBalancerIP', {}, huge, /^spec\.loadBalancerIP "k{60}\.\.\. \(200000 characters\)": "k{60}.*" is not an IP address$/],
    ['control characters are escaped', { 'barelb.io/loadBalancerIPs': '198.51.100.1\u0007\u001b[31m' }, undefined, /"198\.51\.100\.1\\u0007\\u001b\[31m" is not an IP address$/],
    ['huge contradicting annotation', { 'barelb.io/loadBalancerIPs': `198.51.100.7,${' '.repeat(300)}` }, '198.51.100.8', /contradicts barelb\.io\/loadBalancerIPs "198\.51\.100\.7, {47}\.\.\. \(313 characters\)"$/],
  ];
  for (const [what, annotations, loadBalancerIP, reason] of rows) {
    const { error } = readRequest(view('s', { annotations, loadBalancerIP }));
    t.match(error?.message, reason, what);
    t.ok((error?.message.length ?? Infinity) < 400, `${what}: ${error?.message.length} characters`);
  }
});
