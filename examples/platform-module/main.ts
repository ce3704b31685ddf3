/**
 * Example (c), a platform module reused for two clusters that share one BIG-IP.
 *
 * The platform team packages the egress baseline once (`ClusterEgressPlatform`); each cluster
 * gets its own CRD stack, rule stack, AS3 tenant and route domain, and application teams add
 * their rules to `device`. The BIG-IP's global context and `/Common/Shared` are owned by one
 * `SharedBigip` in a stack of its own, so neither cluster's deploy clobbers the other's
 * objects. The clusters reuse the same pod CIDR: their route domains keep them apart.
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
  EgressGuardrails,
  NamespaceEgressRule,
  SharedBigip,
} from '../../lib';

export interface ClusterEgressPlatformProps {
  readonly clusterName: string;
  readonly kubeContext: string;
  readonly bigip: SharedBigip;
  readonly routeDomain: number;
  readonly podCidrs: string[];
  readonly clusterDns: string;
}

/** One cluster's egress platform: CRDs, device and the security baseline. */
export class ClusterEgressPlatform extends Construct {
  public readonly stack: TerraformStack;
  public readonly device: AfmDevice;

  constructor(scope: Construct, id: string, props: ClusterEgressPlatformProps) {
    super(scope, id);
    const kubernetes = { configPath: '~/.kube/config', configContext: props.kubeContext };
    const crds = new EgressCrdStack(scope, `${id}-crds`, { kubernetes });
    new LocalBackend(crds, { path: `terraform.${id}-crds.tfstate` });

    this.stack = new TerraformStack(scope, `${id}-egress`);
    new LocalBackend(this.stack, { path: `terraform.${id}-egress.tfstate` });
    new KubernetesProvider(this.stack, 'kubernetes', kubernetes);
    this.device = new AfmDevice(this.stack, 'Bigip', {
      clusterName: props.clusterName,
      sharedBigip: props.bigip,
      routeDomain: props.routeDomain,
      crdStack: crds,
      podCidrs: props.podCidrs,
    });

    new ClusterEgressRule(this.stack, 'BlockC2', {
      device: this.device,
      action: EgressAction.DENY,
      priority: 0,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
      logging: true,
      owner: 'security',
      ticket: 'SEC-1',
    });
    new ClusterEgressRule(this.stack, 'AllowDns', {
      device: this.device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.address(props.clusterDns)],
      ports: [EgressPort.DNS_UDP, EgressPort.DNS_TCP],
      owner: 'security',
      ticket: 'SEC-1',
    });
    // The security team's envelope for every team rule of this cluster.
    EgressGuardrails.applyTo(this.stack, { name: 'platform baseline', requireOwner: true, maxRulesPerNamespace: 20 });
  }
}

export function buildPlatform(app: App): ClusterEgressPlatform[] {
  const sharedStack = new TerraformStack(app, 'bigip-dc1');
  new LocalBackend(sharedStack, { path: 'terraform.bigip-dc1.tfstate' });
  const bigip = new SharedBigip(sharedStack, 'Dc1', {
    name: 'dc1_egress',
    address: 'bigip-dc1.example.net',
    credentials: BigipCredentials.fromEnvironment(),
    tlsCaBundlePath: '/etc/ssl/certs/bigip-mgmt-ca.pem',
    dnsResolver: '/Common/egress-resolver',
  });
  const east = new ClusterEgressPlatform(app, 'east', {
    clusterName: 'east',
    kubeContext: 'east-admin',
    bigip,
    routeDomain: 2,
    podCidrs: ['10.244.0.0/16'],
    clusterDns: '10.96.0.10',
  });
  const west = new ClusterEgressPlatform(app, 'west', {
    clusterName: 'west',
    kubeContext: 'west-admin',
    bigip,
    routeDomain: 3,
    podCidrs: ['10.244.0.0/16'],
    clusterDns: '10.96.0.10',
  });
  // An application team's rule on one cluster only.
  new NamespaceEgressRule(west.stack, 'AnalyticsWarehouse', {
    device: west.device,
    namespace: 'analytics',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.fqdn('warehouse.example.com')],
    ports: [EgressPort.HTTPS],
    owner: 'team-analytics',
  });
  return [east, west];
}

if (require.main === module) {
  const app = new App();
  buildPlatform(app);
  app.synth();
}
