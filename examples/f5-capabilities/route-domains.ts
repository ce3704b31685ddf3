/**
 * Tenant isolation with overlapping pod CIDRs: namespaces `tenant-a` and `tenant-b` run on a
 * CNI that gives each its own network (such as kube-ovn VPCs), both with pods in 10.16.0.0/16.
 * Their egress reaches the BIG-IP on their own VLANs, which belong to route domains 11 and 12;
 * the same address is a different pod in each. The route domains and VLANs are the platform's
 * (Declarative Onboarding or tmsh): AS3 cannot create them.
 *
 * Use: give the device `namespaceRouteDomains: TENANT_ROUTE_DOMAINS`, then call
 * `addRouteDomains(scope, device)` for the tenants' rules.
 */
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
  NamespaceRouteDomain,
  ServiceEgressRule,
} from '../../lib';

/** The two tenants: the same pod CIDR, each in its own route domain on its own VLAN. */
export const TENANT_ROUTE_DOMAINS: NamespaceRouteDomain[] = [
  { namespace: 'tenant-a', routeDomain: 11, vlans: ['/Common/vlan-tenant-a'], podCidrs: ['10.16.0.0/16'] },
  {
    namespace: 'tenant-b',
    routeDomain: 12,
    routeDomainName: '/Common/rd-tenant-b',
    vlans: ['/Common/vlan-tenant-b'],
    podCidrs: ['10.16.0.0/16'],
  },
];

/** Each tenant's own rules (enforced in its route domain) and one guardrail for every pod (global). */
export function addRouteDomains(scope: Construct, device: AfmDevice): void {
  // Cluster rules stay global: they apply in every route domain, to every tenant's pods.
  new ClusterEgressRule(scope, 'NoSmtpAnywhere', {
    device,
    action: EgressAction.DENY,
    priority: 10,
    destinations: [EgressDestination.anyIpv4()],
    ports: [EgressPort.tcp(25)],
    owner: 'security',
  });
  new NamespaceEgressRule(scope, 'TenantAPartner', {
    device,
    namespace: 'tenant-a',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('198.51.100.0/24')],
    ports: [EgressPort.HTTPS],
    owner: 'team-a',
  });
  new NamespaceEgressRule(scope, 'TenantBNothingOut', {
    device,
    namespace: 'tenant-b',
    action: EgressAction.DENY,
    destinations: [EgressDestination.anyIpv4()],
    owner: 'team-b',
  });
  new ServiceEgressRule(scope, 'TenantBBilling', {
    device,
    namespace: 'tenant-b',
    service: 'billing',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('203.0.113.0/24')],
    ports: [EgressPort.HTTPS],
    owner: 'team-b',
  });
}

/** A stack with a device that maps the two tenants, for trying the example alone. */
export function buildRouteDomainsExample(app: App): AfmDevice {
  const crdStack = new EgressCrdStack(app, 'tenants-crds');
  const stack = new TerraformStack(app, 'tenants-egress');
  new LocalBackend(stack, { path: 'terraform.tenants-egress.tfstate' });
  new KubernetesProvider(stack, 'kubernetes', {});
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: 'tenants',
    address: '192.0.2.10',
    credentials: BigipCredentials.fromVariables(),
    tlsCaBundlePath: '/etc/ssl/certs/bigip-mgmt-ca.pem',
    crdStack,
    podCidrs: ['10.244.0.0/16'],
    vlans: ['/Common/vlan-nodes'],
    namespaceRouteDomains: TENANT_ROUTE_DOMAINS,
  });
  addRouteDomains(stack, device);
  return device;
}
