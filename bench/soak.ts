import { lab, type Proc } from '../testkit/lab.js';
import { startTraffic, totals } from '../testkit/traffic.js';
import { procStatus, progress, sleepMs, speakerEach, speakerPid } from './lab-probes.js';
import { lbService, persistently, type ScaleLab } from './scale.js';

export interface SoakSample {
  readonly minute: number;
  readonly controllerRssMiB: number;
  /** Per node; restarted speakers start again from their fresh RSS. */
  readonly speakerRssMiB: Readonly<Record<string, number>>;
  /** Sum of the speakers' barelb_addresses_announced. */
  readonly announced: number;
  /** Speakers announcing anything. */
  readonly announcers: number;
  /** Traffic to the web VIPs since the soak began. */
  readonly requests: number;
  readonly failures: number;
  readonly churnOps: number;
}

export interface SoakResult {
  readonly minutes: number;
  readonly services: number;
  readonly samples: readonly SoakSample[];
  readonly restarts: readonly { readonly minute: number; readonly node: string }[];
  readonly churnOpsPerS: number;
  readonly longestGapMs: number;
  readonly errors: Readonly<Record<string, number>>;
}

/**
 * `minutes` of Service churn (one Service deleted and one created, 1 per second each) with one speaker
 * restarted (SIGTERM, then started again) every 2 minutes in turn, traffic every 50 ms to each web VIP
 * (testkit's traffic generator); sampled every 30 s.
 */
export async function benchSoak(s: ScaleLab, minutes: number): Promise<SoakResult> {
  const say = (m: string): void => progress('soak', m);
  const traffic = await startTraffic(s.t, s.webVips.map((v) => `http://${v}/`), { intervalMs: 50, timeoutMs: 1000, controlPort: 7481 });
  const start = Date.now();
  const minute = (): number => (Date.now() - start) / 60_000;
  const endAt = start + minutes * 60_000;
  let churnOps = 0;
  let seq = 0;
  const churn = (async () => {
    while (Date.now() < endAt) {
      const i = seq++ % s.churnable.length;
      const name = s.churnable[i] as string;
      const fresh = `k-${seq}`;
      await persistently(`deleting ${name}`, () => s.core.deleteNamespacedService({ name, namespace: s.ns }));
      await persistently(`creating ${fresh}`, () => s.core.createNamespacedService({ namespace: s.ns, body: lbService(fresh) }));
      s.churnable[i] = fresh;
      churnOps += 2;
      await sleepMs(1000);
    }
  })();
  const restarts: { minute: number; node: string }[] = [];
  const restarter = (async () => {
    for (let k = 0; ; k++) {
      const at = start + (k + 1) * 120_000;
      if (at >= endAt) return;
      await sleepMs(at - Date.now());
      const node = lab.nodes[k % lab.nodes.length] as string;
      say(`restarting the speaker on ${node}`);
      restarts.push({ minute: minute(), node });
      await (s.speakers.get(node) as Proc).kill('SIGTERM');
      await s.restartSpeaker(node);
    }
  })();
  const samples: SoakSample[] = [];
  const sample = async (): Promise<void> => {
    const announced = await speakerEach('barelb_addresses_announced');
    const rss: Record<string, number> = {};
    for (const [n, p] of s.speakers) {
      try {
        rss[n] = procStatus(speakerPid(p)).rssKiB / 1024;
      } catch {
        rss[n] = NaN; // restarting
      }
    }
    const tt = totals(await traffic.stats());
    const x: SoakSample = {
      minute: minute(),
      controllerRssMiB: procStatus(s.controller.child.pid as number).rssKiB / 1024,
      speakerRssMiB: rss,
      announced: [...announced.values()].reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0),
      announcers: [...announced.values()].filter((v) => v > 0).length,
      requests: tt.requests,
      failures: tt.failures,
      churnOps,
    };
    samples.push(x);
    say(`${x.minute.toFixed(1)} min: announced ${x.announced} by ${x.announcers}, ${x.failures}/${x.requests} failed, RSS ${Object.values(rss).map((v) => v.toFixed(0)).join('/')} MiB`);
  };
  await sample();
  while (Date.now() + 30_000 <= endAt) {
    await sleepMs(30_000);
    await sample();
  }
  await Promise.all([churn, restarter]);
  await sleepMs(Math.max(0, endAt - Date.now()));
  await sample();
  const final = await traffic.stop();
  const errors: Record<string, number> = {};
  for (const tg of Object.values(final.targets)) for (const [k, v] of Object.entries(tg.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    minutes,
    services: s.services,
    samples,
    restarts,
    churnOpsPerS: churnOps / ((Date.now() - start) / 1000),
    longestGapMs: totals(final).longestGapMs,
    errors,
  };
}
