import type { PolicyModel, RuleModel } from '../../lib/policy/model';
import { testDevice } from '../support/device';

/** The renderer's default field list, as a device without `logging.fields` sends it. */
export const DEFAULT_FIELDS = ['date-time', 'action', 'context-type', 'context-name', 'acl-policy-name', 'acl-policy-type', 'acl-rule-name', 'src-ip', 'src-port', 'dest-ip', 'dest-port', 'protocol', 'route-domain'];

export interface LineFields {
  time?: string;
  host?: string;
  dateTime?: string;
  action?: string;
  contextType?: string;
  contextName?: string;
  policy?: string;
  policyType?: string;
  rule?: string;
  src?: string;
  srcPort?: string;
  dst?: string;
  dstPort?: string;
  protocol?: string;
  routeDomain?: string;
}

/** An RFC 5424 message whose MSG is the default field list, values in double quotes. */
export function fieldListLine(f: LineFields = {}): string {
  const values = [
    f.dateTime ?? 'Mar  2 2026 09:30:00',
    f.action ?? 'Drop',
    f.contextType ?? 'Virtual Server',
    f.contextName ?? '/k8s_demo_prod/egress/egress_vs',
    f.policy ?? '/Common/Shared/k8s_demo_prod_vs_policy',
    f.policyType ?? 'Enforced',
    f.rule ?? 'default',
    f.src ?? '10.244.1.5',
    f.srcPort ?? '40000',
    f.dst ?? '203.0.113.10',
    f.dstPort ?? '443',
    f.protocol ?? 'TCP',
    f.routeDomain ?? '0',
  ];
  return `<134>1 ${f.time ?? '2026-03-02T09:30:00.250Z'} ${f.host ?? 'bigip1.example.net'} tmm - 23003137 - ${values.map((v) => `"${v}"`).join(',')}`;
}

const rule = (r: Partial<RuleModel> & Pick<RuleModel, 'level' | 'name'>): RuleModel => ({
  path: `app/stack/${r.name}`,
  action: 'ALLOW',
  priority: 500,
  source: { level: r.level, ...(r.namespace ? { namespace: r.namespace } : {}) },
  destinations: [],
  ports: [],
  logging: true,
  audit: false,
  metadata: {},
  ...r,
});

/** A small policy: cluster DNS, a payments namespace rule, a service rule and an audit deny. */
export function demoModel(): PolicyModel {
  return {
    device: testDevice({ tenant: 'k8s_demo_prod', cluster: 'prod' }),
    externalServices: [],
    rules: [
      rule({ level: 'cluster', name: 'allow-dns', action: 'ALLOW_FINAL', destinations: [{ kind: 'address', text: '10.96.0.10', family: 4 }], ports: [{ protocol: 'udp', fromPort: 53, toPort: 53 }], metadata: { owner: 'security', ticket: 'SEC-1' } }),
      rule({ level: 'namespace', namespace: 'payments', name: 'bank-sftp', destinations: [{ kind: 'range', text: '198.51.100.10-198.51.100.20', family: 4 }], ports: [{ protocol: 'tcp', fromPort: 22, toPort: 22 }], metadata: { owner: 'team-payments', ticket: 'PAY-7' } }),
      rule({ level: 'service', namespace: 'payments', name: 'checkout-to-stripe', source: { level: 'service', namespace: 'payments', service: 'checkout' }, destinations: [{ kind: 'fqdn', text: 'api.stripe.com', wildcard: false }], ports: [{ protocol: 'tcp', fromPort: 443, toPort: 443 }] }),
      rule({ level: 'cluster', name: 'no-smtp', action: 'REJECT', audit: true, destinations: [{ kind: 'cidr', text: '0.0.0.0/0', family: 4 }], ports: [{ protocol: 'tcp', fromPort: 25, toPort: 25 }], metadata: { owner: 'security', ticket: 'SEC-9' } }),
    ],
  };
}
