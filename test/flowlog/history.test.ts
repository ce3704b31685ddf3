/**
 * Address → pod intervals: an event is attributed to the pod that held its source address at
 * the event's time, also after the address moved to another pod; the history stays bounded.
 */
import fc from 'fast-check';
import { enrich, RuleDirectory } from '../../lib/flowlog/enrich';
import { AddressHistory } from '../../lib/flowlog/history';
import { AfmLogParser } from '../../lib/flowlog/parse';
import { demoModel, fieldListLine } from './support';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const min = 60_000;

describe('enrichment across an address move', () => {
  test('two events from one address minutes apart name the pod that held it at each time, with the rule behind each AFM rule', () => {
    const history = new AddressHistory();
    history.podUpdated(T0, { namespace: 'payments', name: 'checkout-1', ips: ['10.244.1.5'], node: 'node-a', services: ['checkout'] });
    history.podDeleted(T0 + 10 * min, { namespace: 'payments', name: 'checkout-1' });
    history.podUpdated(T0 + 12 * min, { namespace: 'web', name: 'frontend-9', ips: ['10.244.1.5', 'fd00:10:244::5'], node: 'node-b' });
    const parser = new AfmLogParser();
    const rules = RuleDirectory.fromModel(demoModel());
    const at = (time: string, rule: string, action: string) => {
      const r = parser.parse(fieldListLine({ time, rule, action, dst: '198.51.100.12', dstPort: '22' }));
      if (!r.ok) throw new Error(r.reason);
      return enrich(r.event, history, rules);
    };
    const before = at('2026-03-02T09:05:00Z', 'n_payments_bank-sftp_tcp', 'Accept');
    const gap = at('2026-03-02T09:11:00Z', 'default', 'Drop');
    const after = at('2026-03-02T09:13:00Z', 'default', 'Drop');
    expect(before).toEqual({
      format: 'cdktf-ces.dev/flow/v1',
      time: '2026-03-02T09:05:00.000Z',
      verdict: 'allow',
      action: 'accept',
      staged: false,
      device: 'bigip1.example.net',
      source: { ip: '10.244.1.5', port: 40000, namespace: 'payments', pod: 'checkout-1', node: 'node-a', services: ['checkout'] },
      destination: { ip: '198.51.100.12', port: 22 },
      protocol: 'tcp',
      context: { type: 'Virtual Server', name: '/k8s_demo_prod/egress/egress_vs' },
      afm: { policy: '/Common/Shared/k8s_demo_prod_vs_policy', rule: 'n_payments_bank-sftp_tcp', routeDomain: 0 },
      rule: {
        key: 'namespace/payments/bank-sftp',
        kind: 'NamespaceEgressRule',
        level: 'namespace',
        name: 'bank-sftp',
        namespace: 'payments',
        path: 'app/stack/bank-sftp',
        action: 'ALLOW',
        mode: 'enforced',
        owner: 'team-payments',
        ticket: 'PAY-7',
      },
    });
    expect(gap.source).toEqual({ ip: '10.244.1.5', port: 40000 });
    expect(gap.defaultRule).toBe(true);
    expect(after.source).toEqual({ ip: '10.244.1.5', port: 40000, namespace: 'web', pod: 'frontend-9', node: 'node-b', services: [] });
  });

  test('an address handed over without a delete in between (update order) closes the old holder at the hand-over', () => {
    const h = new AddressHistory();
    h.podUpdated(T0, { namespace: 'a', name: 'p1', ips: ['10.0.0.1'] });
    h.podUpdated(T0 + min, { namespace: 'b', name: 'p2', ips: ['10.0.0.1'] });
    expect(h.lookup('10.0.0.1', T0 + min - 1)?.pod).toBe('p1');
    expect(h.lookup('10.0.0.1', T0 + min)?.pod).toBe('p2');
    expect(h.lookup('10.0.0.1', T0 - 1)).toBeUndefined();
    // p1's later update without the address does not close p2's interval.
    h.podUpdated(T0 + 2 * min, { namespace: 'a', name: 'p1', ips: [] });
    expect(h.lookup('10.0.0.1', T0 + 3 * min)?.pod).toBe('p2');
  });

  test('a Service change starts a new interval: events keep the Services of their time', () => {
    const h = new AddressHistory();
    h.podUpdated(T0, { namespace: 'a', name: 'p', ips: ['10.0.0.1'], services: ['old'] });
    h.podUpdated(T0 + min, { namespace: 'a', name: 'p', ips: ['10.0.0.1'], services: ['new'] });
    expect(h.lookup('10.0.0.1', T0)?.services).toEqual(['old']);
    expect(h.lookup('10.0.0.1', T0 + min)?.services).toEqual(['new']);
  });

  test('against a reference model: lookups agree with a full replay of the events', () => {
    const event = fc.record({
      dt: fc.integer({ min: 0, max: 5 }),
      pod: fc.constantFrom('p1', 'p2', 'p3'),
      ips: fc.subarray(['10.0.0.1', '10.0.0.2', '10.0.0.3']),
      del: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 25 }), (events) => {
        const h = new AddressHistory();
        // Reference: per time, who holds each ip, replaying every event up to it.
        const holders = new Map<string, string>();
        const timeline: { t: number; snapshot: Map<string, string> }[] = [];
        let t = T0;
        for (const e of events) {
          t += e.dt;
          if (e.del) {
            h.podDeleted(t, { namespace: 'n', name: e.pod });
            for (const [ip, pod] of [...holders]) if (pod === e.pod) holders.delete(ip);
          } else {
            h.podUpdated(t, { namespace: 'n', name: e.pod, ips: e.ips });
            for (const [ip, pod] of [...holders]) if (pod === e.pod && !e.ips.includes(ip)) holders.delete(ip);
            for (const ip of e.ips) holders.set(ip, e.pod);
          }
          if (timeline.length && timeline[timeline.length - 1].t === t) timeline.pop();
          timeline.push({ t, snapshot: new Map(holders) });
        }
        for (let i = 0; i < timeline.length; i++) {
          const { t: at, snapshot } = timeline[i];
          for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) expect(h.lookup(ip, at)?.pod).toBe(snapshot.get(ip));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('bounded', () => {
  test('closed intervals are forgotten after maxAgeMs, and counted', () => {
    const h = new AddressHistory({ maxAgeMs: 10 * min });
    h.podUpdated(T0, { namespace: 'a', name: 'p1', ips: ['10.0.0.1'] });
    h.podDeleted(T0 + min, { namespace: 'a', name: 'p1' });
    h.podUpdated(T0 + 5 * min, { namespace: 'a', name: 'p2', ips: ['10.0.0.2'] });
    expect(h.lookup('10.0.0.1', T0)?.pod).toBe('p1');
    h.podUpdated(T0 + 12 * min, { namespace: 'a', name: 'p3', ips: ['10.0.0.3'] });
    expect(h.lookup('10.0.0.1', T0)).toBeUndefined();
    expect(h.lookup('10.0.0.2', T0 + 12 * min)?.pod).toBe('p2');
    expect(h.stats()).toEqual({ intervals: 2, open: 2, expired: 1, evicted: 0 });
  });

  test('a churn of 100 000 pod events keeps at most maxIntervals, oldest closed first', () => {
    const h = new AddressHistory({ maxIntervals: 1000, maxAgeMs: Number.MAX_SAFE_INTEGER });
    for (let i = 0; i < 100_000; i++) {
      const ip = `10.1.${(i >> 8) & 255}.${i & 255}`;
      h.podUpdated(T0 + i, { namespace: 'churn', name: `p${i}`, ips: [ip] });
      if (i % 2 === 1) h.podDeleted(T0 + i, { namespace: 'churn', name: `p${i}` });
      if (i % 997 === 0) expect(h.stats().intervals).toBeLessThanOrEqual(1000);
    }
    const s = h.stats();
    expect(s.intervals).toBe(1000);
    // Open intervals go too once more pods are open than the bound; the last pod was deleted.
    expect(s.open).toBe(999);
    expect(s.evicted).toBe(99_000);
    expect(h.lookup('10.1.134.158', T0 + 99_999)?.pod).toBe('p99998');
  });
});
