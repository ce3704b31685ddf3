/**
 * Rule and ExternalService models rendered as custom resources: a field the model leaves out
 * is rendered as absent even when other code has set that name on Object.prototype (models
 * also come from JSON artifacts, where absent fields have no key at all).
 */
import type { ExternalServiceModel, RuleModel } from '../../lib/policy/model';
import { externalServiceResource, ruleResource } from '../../lib/k8s/resources';

/** A cluster rule as a JSON artifact holds it: optional fields without keys. */
const rule: RuleModel = JSON.parse(
  JSON.stringify({
    level: 'cluster',
    name: 'all-tcp',
    path: 'egress/AllTcp',
    action: 'ALLOW',
    priority: 500,
    source: { level: 'cluster' },
    destinations: [{ kind: 'cidr', text: '203.0.113.0/24', family: 4 }],
    ports: [{ protocol: 'tcp' }],
    logging: false,
    audit: false,
    metadata: {},
  }),
);
const service: ExternalServiceModel = {
  name: 'bank',
  path: 'egress/Bank',
  destinations: [{ kind: 'address', text: '198.51.100.7', family: 4 }],
};

const POLLUTION: Record<string, unknown> = {
  fromPort: 1,
  toPort: 2,
  service: 'checkout',
  namespace: 'payments',
  description: 'polluted',
  owner: 'someone',
  expiresAt: '2000-01-01T00:00:00Z',
};

function polluted<T>(fn: () => T): T {
  for (const [key, value] of Object.entries(POLLUTION))
    Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true, enumerable: false });
  try {
    return fn();
  } finally {
    for (const key of Object.keys(POLLUTION)) delete (Object.prototype as Record<string, unknown>)[key];
  }
}

describe('custom resources of models without optional fields', () => {
  test('a rule renders the same with a polluted Object.prototype', () => {
    const clean = ruleResource(rule, 'prod');
    expect(clean).toEqual({
      apiVersion: 'egress.cdktf-ces.io/v1alpha1',
      kind: 'ClusterEgressRule',
      metadata: {
        name: 'all-tcp',
        labels: { 'app.kubernetes.io/managed-by': 'cdktf-ces', 'egress.cdktf-ces.io/cluster': 'prod' },
        annotations: { 'egress.cdktf-ces.io/construct-path': 'egress/AllTcp' },
      },
      spec: { action: 'Allow', priority: 500, destinations: [{ cidr: '203.0.113.0/24' }], ports: [{ protocol: 'tcp' }] },
    });
    expect(JSON.stringify(polluted(() => ruleResource(rule, 'prod')))).toBe(JSON.stringify(clean));
  });

  test('an ExternalService renders the same with a polluted Object.prototype', () => {
    const clean = externalServiceResource(service, 'prod');
    expect(clean.spec).toEqual({ destinations: [{ address: '198.51.100.7' }] });
    expect(JSON.stringify(polluted(() => externalServiceResource(service, 'prod')))).toBe(JSON.stringify(clean));
  });
});
