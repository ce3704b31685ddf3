/**
 * Round trip on random CES policies: manifests → `importCes` → generated module (transpiled and
 * run) → constructs → policy model, whose verdicts must be those CES gives, for every probe flow.
 */
import fc from 'fast-check';
import { Testing } from 'cdktf';
import { stringify } from 'yaml';
import { importCes } from '../../lib/migration';
import { cesObjects, cesVerdict, probeAddresses, probePorts } from './ces-oracle';
import { intentVerdict, loadGenerated, migratedApp, probeCluster, probeFlows } from './support';

const LIBRARY = 'cdktf-ces';
const NAMESPACES = ['payments', 'web'];
const SERVICES = ['checkout', 'api'];
const ES_NAMES = ['api', 'db', 'dns'];
const IPS = ['192.0.2.10', '192.0.2.11', '198.51.100.7', '2001:db8::7'];

const portEntry = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      name: fc.constantFrom('a', 'b'),
      protocol: fc.constantFrom('TCP', 'UDP', 'tcp', 'SCTP'),
      port: fc.constantFrom('22', '53', '443', '80,443', '8000-8080', '440-450'),
      bandwidth: fc.constantFrom(undefined, undefined, '5Mbps', 'bwc-20mbps-irule'),
    }),
  },
  // CES skips entries without a port; with no other entry the service means every protocol.
  { weight: 1, arbitrary: fc.record({ name: fc.constant('icmp'), protocol: fc.constant('ICMP') }) },
);

const externalService = fc.record({
  name: fc.constantFrom(...ES_NAMES),
  namespace: fc.constantFrom('kube-system', ...NAMESPACES),
  addresses: fc.uniqueArray(fc.constantFrom(...IPS), { minLength: 1, maxLength: 3 }),
  ports: fc.option(fc.array(portEntry, { maxLength: 3 }), { nil: undefined }),
});

const rule = fc.record({
  kind: fc.constantFrom('ClusterEgressRule', 'NamespaceEgressRule', 'ServiceEgressRule'),
  name: fc.constantFrom('r1', 'r2', 'r3'),
  namespace: fc.constantFrom(...NAMESPACES),
  service: fc.constantFrom(...SERVICES),
  action: fc.constantFrom('accept', 'drop', 'accept-decisively', 'reject'),
  logging: fc.option(fc.boolean(), { nil: undefined }),
  refs: fc.subarray(ES_NAMES, { minLength: 1 }),
});

const manifests = fc
  .tuple(fc.array(externalService, { maxLength: 6 }), fc.array(rule, { minLength: 1, maxLength: 6 }))
  .map(([services, rules]) => {
    const es = [...new Map(services.map((s) => [`${s.namespace}/${s.name}`, s])).values()];
    const objects: Record<string, unknown>[] = es.map((s) => ({
      apiVersion: 'kubeovn.io/v1alpha1',
      kind: 'ExternalService',
      metadata: { name: s.name, namespace: s.namespace },
      spec: {
        addresses: s.addresses,
        ...(s.ports ? { ports: s.ports.map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined))) } : {}),
      },
    }));
    const seen = new Set<string>();
    for (const r of rules) {
      const cluster = r.kind === 'ClusterEgressRule';
      const key = `${r.kind}/${cluster ? '' : r.namespace}/${r.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const lookup = cluster ? 'kube-system' : r.namespace;
      objects.push({
        apiVersion: 'kubeovn.io/v1alpha1',
        kind: r.kind,
        metadata: { name: r.name, ...(cluster ? {} : { namespace: r.namespace }) },
        spec: {
          action: r.action,
          ...(r.logging !== undefined ? { logging: r.logging } : {}),
          ...(r.kind === 'ServiceEgressRule' ? { service: r.service } : {}),
          externalServices: r.refs.filter((n) => es.some((s) => s.namespace === lookup && s.name === n)),
        },
      });
    }
    return objects.map((o) => stringify(o)).join('---\n');
  });

test('imported random CES policies give every probe flow the CES verdict', () => {
  const { snapshot, pods } = probeCluster({ payments: SERVICES, web: ['checkout'], other: [] });
  fc.assert(
    fc.property(manifests, (text) => {
      const { plan, module } = importCes(text, 'random.yaml', { library: LIBRARY });
      // Only upper-level accepts are left out, and they are verdict-neutral in CES.
      expect(plan.notCarried.filter((i) => i.field !== 'spec.action')).toEqual([]);
      const { device } = migratedApp(loadGenerated(module, LIBRARY), {}, Testing.app());
      const model = device._policyModel();
      const objects = cesObjects(text);
      for (const { probe, flow } of probeFlows(pods, probeAddresses(objects), probePorts(objects))) {
        const expected = cesVerdict(objects, flow);
        const actual = intentVerdict(model, snapshot, probe.pod, flow);
        if (actual !== expected) {
          throw new Error(
            `${probe.pod.namespace}/${probe.pod.name} → ${flow.ip}:${flow.port ?? ''}/${flow.protocol}: CES ${expected}, imported ${actual}`,
          );
        }
      }
    }),
    { numRuns: 60 },
  );
});

test('the import is deterministic: the same manifests give the same module', () => {
  fc.assert(
    fc.property(manifests, (text) => {
      expect(importCes(text, 'a.yaml').module).toBe(importCes(text, 'a.yaml').module);
    }),
    { numRuns: 30 },
  );
});
