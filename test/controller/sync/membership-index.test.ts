import fc from 'fast-check';
import { MembershipIndex, PodCache } from '../../../lib/controller/sync/membership-index';
import { desiredMembers, NamespaceInfo, PodInfo, ServiceInfo } from '../../../lib/policy/membership';
import { compilePolicy } from '../../../lib/policy/compile';
import { buildSyncPlan } from '../../../lib/k8s/sync-plan';
import { EgressDestination } from '../../../lib/policy/destination';
import { buildRule } from '../../../lib/policy/schema';
import { testDevice } from '../../support/device';
import { LABEL_KEYS, LABEL_VALUES, NAMESPACES, SERVICES, policyArb } from '../../support/arbitraries';

const labels = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 });
const ip = fc.oneof(
  fc.integer({ min: 1, max: 40 }).map((n) => `10.244.0.${n}`),
  fc.integer({ min: 1, max: 10 }).map((n) => `fd00::${n.toString(16)}`),
);

type Event =
  | { kind: 'pod'; pod: PodInfo }
  | { kind: 'deletePod'; namespace: string; name: string }
  | { kind: 'namespace'; ns: NamespaceInfo }
  | { kind: 'deleteNamespace'; name: string }
  | { kind: 'service'; svc: ServiceInfo }
  | { kind: 'deleteService'; namespace: string; name: string };

const podName = fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6');
const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        namespace: fc.constantFrom(...NAMESPACES),
        name: podName,
        labels,
        ips: fc.uniqueArray(ip, { maxLength: 2 }),
        phase: fc.constantFrom('Pending', 'Running', 'Running', 'Succeeded', 'Failed'),
        terminating: fc.boolean(),
        hostNetwork: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      })
      .map((pod) => ({ kind: 'pod' as const, pod })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ namespace: fc.constantFrom(...NAMESPACES), name: podName }).map((p) => ({ kind: 'deletePod' as const, ...p })),
  },
  { weight: 2, arbitrary: fc.record({ name: fc.constantFrom(...NAMESPACES), labels }).map((ns) => ({ kind: 'namespace' as const, ns })) },
  { weight: 1, arbitrary: fc.constantFrom(...NAMESPACES).map((name) => ({ kind: 'deleteNamespace' as const, name })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        namespace: fc.constantFrom(...NAMESPACES),
        name: fc.constantFrom(...SERVICES),
        selector: fc.option(labels, { nil: undefined }),
      })
      .map((svc) => ({ kind: 'service' as const, svc })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ namespace: fc.constantFrom(...NAMESPACES), name: fc.constantFrom(...SERVICES) })
      .map((s) => ({ kind: 'deleteService' as const, ...s })),
  },
);

function mapCache(pods: Map<string, PodInfo>): PodCache {
  return { get: (key) => pods.get(key), keysInNamespace: (ns) => [...pods.keys()].filter((k) => k.startsWith(`${ns}/`)) };
}

describe('MembershipIndex', () => {
  test('after any sequence of events it equals the snapshot computation, and reports every change', () => {
    const at = new Date('2026-01-05T10:00:00Z');
    fc.assert(
      fc.property(policyArb({ maxRules: 10 }), fc.array(eventArb, { maxLength: 60 }), (policy, events) => {
        // Windows and expiry are the reconciler's business; the index ignores them.
        const plan = buildSyncPlan(
          compilePolicy({ ...policy, rules: policy.rules.map((r) => ({ ...r, schedule: undefined, expiresAt: undefined })) }),
        );
        // The informer cache: updated before the index hears of a change, as the informer does.
        const pods = new Map<string, PodInfo>();
        const index = new MembershipIndex(plan, mapCache(pods));
        const namespaces = new Map<string, NamespaceInfo>();
        const services = new Map<string, ServiceInfo>();
        let previous = new Map(plan.lists.map((l) => [l.path, [] as string[]]));
        for (const e of events) {
          let changes;
          switch (e.kind) {
            case 'pod':
              pods.set(`${e.pod.namespace}/${e.pod.name}`, e.pod);
              changes = index.upsertPod(e.pod);
              break;
            case 'deletePod':
              pods.delete(`${e.namespace}/${e.name}`);
              changes = index.deletePod(e.namespace, e.name);
              break;
            case 'namespace':
              namespaces.set(e.ns.name, e.ns);
              changes = index.upsertNamespace(e.ns.name, e.ns.labels);
              break;
            case 'deleteNamespace':
              namespaces.delete(e.name);
              changes = index.deleteNamespace(e.name);
              break;
            case 'service':
              services.set(`${e.svc.namespace}/${e.svc.name}`, e.svc);
              changes = index.upsertService(e.svc);
              break;
            case 'deleteService':
              services.delete(`${e.namespace}/${e.name}`);
              changes = index.deleteService(e.namespace, e.name);
              break;
          }
          const expected = desiredMembers(
            plan,
            { pods: [...pods.values()], namespaces: [...namespaces.values()], services: [...services.values()] },
            at,
          );
          for (const list of plan.lists) {
            const now = index.desired(list.path);
            expect(now).toEqual(expected.get(list.path));
            const before = previous.get(list.path) as string[];
            const changed = now.join() !== before.join();
            const removed = before.some((x) => !now.includes(x));
            if (changed) expect(changes.get(list.path)).toBeDefined();
            if (removed) expect(changes.get(list.path)?.removed).toBe(true);
          }
          previous = expected;
        }
      }),
      { numRuns: 200 },
    );
  });

  test('an IP held by two pods stays until both are gone', () => {
    const plan = buildSyncPlan(
      compilePolicy({
        device: testDevice(),
        externalServices: [],
        rules: [
          buildRule({
            level: 'namespace',
            path: 'p',
            name: 'r',
            namespace: 'web',
            action: 'ALLOW',
            destinations: [EgressDestination.anyIpv4()],
          }),
        ],
      }),
    );
    const index = new MembershipIndex(plan, mapCache(new Map()));
    const list = plan.lists[0].path;
    index.upsertPod({ namespace: 'web', name: 'old', labels: {}, ips: ['10.0.0.7'], phase: 'Running' });
    index.upsertPod({ namespace: 'web', name: 'new', labels: {}, ips: ['10.0.0.7'], phase: 'Pending' });
    expect(index.deletePod('web', 'old').size).toBe(0);
    expect(index.desired(list)).toEqual(['10.0.0.7']);
    expect(index.deletePod('web', 'new').get(list)).toEqual({ removed: true });
    expect(index.desired(list)).toEqual([]);
  });
});
