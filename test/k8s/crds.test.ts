import fc from 'fast-check';
import { ALL_KINDS, API_GROUP, EgressKind, customResourceDefinition, openApiSchema } from '../../lib/k8s/crds';
import { externalServiceResource, ruleResource } from '../../lib/k8s/resources';
import { policyArb } from '../support/arbitraries';
import { CrdValidator } from '../support/crd-validate';

const validators = Object.fromEntries(ALL_KINDS.map((k) => [k, new CrdValidator(openApiSchema(k))])) as Record<EgressKind, CrdValidator>;

describe('CustomResourceDefinitions', () => {
  test.each([
    ['ClusterEgressRule', 'clusteregressrules', 'afmcgr', 'Cluster'],
    ['NamespaceEgressRule', 'namespaceegressrules', 'afmngr', 'Namespaced'],
    ['ServiceEgressRule', 'serviceegressrules', 'afmsgr', 'Namespaced'],
    ['ExternalService', 'externalservices', 'afmexsvc', 'Cluster'],
  ] as const)('%s is served as %s (%s), %s-scoped, with a status subresource', (kind, plural, short, scope) => {
    const crd = customResourceDefinition(kind) as any;
    expect(crd.metadata.name).toBe(`${plural}.${API_GROUP}`);
    expect(crd.spec).toMatchObject({ group: API_GROUP, scope, names: { kind, plural, shortNames: [short] } });
    expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
  });

  /**
   * The CRDs of F5 Container Egress Services (kubeovn/ces-controller, group kubeovn.io) name the
   * same four kinds with the same plurals; their short names, categories (none) and printer
   * columns, as its install manifests declare them.
   */
  const CES = {
    ClusterEgressRule: { shortNames: ['cgr'], columns: ['Action', 'Status'] },
    NamespaceEgressRule: { shortNames: ['nsgr'], columns: ['Action', 'Status'] },
    ServiceEgressRule: { shortNames: ['svcgr'], columns: ['Action', 'Status'] },
    ExternalService: { shortNames: ['exsvc'], columns: ['Addresses'] },
  } as const;

  test('beside CES (kubeovn.io) no short name or category of ours is also one of CES, and our columns tell the kinds apart', () => {
    const cesShort = new Set<string>(Object.values(CES).flatMap((c) => c.shortNames));
    for (const kind of ALL_KINDS) {
      const crd = customResourceDefinition(kind) as any;
      expect(crd.spec.group).not.toBe('kubeovn.io');
      // kubectl resolves a short name in any group: none of ours may be one of CES's (or a kind or plural name).
      for (const short of crd.spec.names.shortNames) {
        expect(cesShort.has(short)).toBe(false);
        expect(ALL_KINDS.map((k) => k.toLowerCase())).not.toContain(short);
      }
      expect(crd.spec.names.categories).toEqual(['cdktf-ces', 'egress']);
      const columns = crd.spec.versions[0].additionalPrinterColumns.map((c: any) => c.name);
      expect(columns).not.toEqual(CES[kind].columns);
      expect(columns).not.toContain('Status');
    }
    const all = ALL_KINDS.flatMap((k) => (customResourceDefinition(k) as any).spec.names.shortNames);
    expect(new Set(all).size).toBe(all.length);
  });

  test('rule kinds show readiness and member counts in kubectl get', () => {
    const columns = (customResourceDefinition('ServiceEgressRule') as any).spec.versions[0].additionalPrinterColumns.map(
      (c: any) => c.name,
    );
    expect(columns).toEqual(['Service', 'Action', 'Priority', 'Ready', 'Members', 'Audit', 'Expires', 'Age']);
  });

  test('schemas are structural: every node has a type', () => {
    const walk = (s: any, at: string): string[] => {
      const missing = s.type ? [] : [at];
      for (const [k, sub] of Object.entries(s.properties ?? {})) missing.push(...walk(sub, `${at}.${k}`));
      if (s.items) missing.push(...walk(s.items, `${at}[]`));
      if (typeof s.additionalProperties === 'object') missing.push(...walk(s.additionalProperties, `${at}{}`));
      return missing;
    };
    for (const kind of ALL_KINDS) expect(walk(openApiSchema(kind), kind)).toEqual([]);
  });

  test('every CR rendered from a random valid policy passes its CRD (schema and CEL rules)', () => {
    fc.assert(
      fc.property(policyArb({ maxRules: 10 }), (policy) => {
        for (const rule of policy.rules) {
          const cr = ruleResource(rule, 'test-cluster');
          expect(validators[cr.kind as EgressKind].validate(cr)).toEqual([]);
        }
        for (const es of policy.externalServices) expect(validators.ExternalService.validate(externalServiceResource(es, 'c'))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test.each([
    [
      'two destination kinds in one entry',
      { destinations: [{ cidr: '10.0.0.0/8', fqdn: 'a.example.com' }] },
      /set exactly one of address, cidr, range, fqdn, externalService/,
    ],
    ['no destination kind', { destinations: [{}] }, /set exactly one of/],
    ['a reversed port range', { ports: [{ protocol: 'tcp', port: 90, endPort: 80 }] }, /endPort needs port and must not be below it/],
    ['a port on icmp', { ports: [{ protocol: 'icmp', port: 8 }] }, /only tcp, udp, sctp, udplite and dccp have ports/],
    [
      'a window that ends before it starts',
      { schedule: { daysOfWeek: ['monday'], startTime: '18:00', endTime: '08:00', timeZone: 'UTC' } },
      /endTime must be after startTime/,
    ],
    ['In without values', { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, /In and NotIn need values/],
    ['an unknown action', { action: 'Permit' }, /must be equal to one of the allowed values/],
    ['a priority above 1000', { priority: 1001 }, /must be <= 1000/],
  ])('admission refuses %s', (_what, patch, message) => {
    const cr = {
      apiVersion: `${API_GROUP}/v1alpha1`,
      kind: 'ClusterEgressRule',
      metadata: { name: 'x' },
      spec: { action: 'Allow', priority: 1, destinations: [{ cidr: '0.0.0.0/0' }], ...patch },
    };
    expect(validators.ClusterEgressRule.validate(cr).join('\n')).toMatch(message);
  });
});
