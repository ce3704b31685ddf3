/**
 * Per-rule source translation deployed to the BIG-IP emulator in Terraform's order: a rule with
 * `snat` is added and removed again. The tenant's NAT policy points at lists in /Common/Shared,
 * so removing the rule must not delete a list the NAT policy still uses (mcpd refuses that):
 * in the one declaration of a device that owns its BIG-IP, AS3 deletes them in its final Common
 * pass, after the tenant. After each step verify passes and the AFM evaluator over what the
 * device holds reads the translation the policy asks for. On a SharedBigip the tenant is its
 * own declaration, deployed after the shared one, so synth refuses per-rule translation there.
 */
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  EgressSnat,
  NamespaceEgressRule,
  SharedBigip,
} from '../../lib';
import { observedFirewall } from '../../lib/verify';
import { DeployState, Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { RESOLVER, ROUTE_DOMAINS, errorsOf, pushLists, removeSynthDirs, synth, verifyAll } from './support';

jest.setTimeout(60_000);

interface Version {
  readonly shared?: boolean;
  /** The payments rule with its own translation pool. */
  readonly partner?: boolean;
}

const CONNECTION = { address: 'bigip.example.net', tlsCaBundlePath: '/etc/ssl/bigip-ca.pem' };

function build(app: App, v: Version): void {
  const crds = new EgressCrdStack(app, 'crds');
  const shared = v.shared
    ? new SharedBigip(new TerraformStack(app, 'shared'), 'Bigip', { ...CONNECTION, dnsResolver: RESOLVER })
    : undefined;
  const stack = new TerraformStack(app, 'alpha');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Device', {
    clusterName: 'alpha',
    ...(shared ? { sharedBigip: shared } : { ...CONNECTION, dnsResolver: RESOLVER }),
    crdStack: crds,
    podCidrs: ['10.1.0.0/16'],
    snat: EgressSnat.pool(['192.0.2.200']),
  });
  new ClusterEgressRule(stack, 'Web', {
    device,
    name: 'https',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.anyIpv4()],
    ports: [EgressPort.HTTPS],
  });
  if (v.partner)
    new NamespaceEgressRule(stack, 'Partner', {
      device,
      name: 'partner',
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('198.51.100.0/24')],
      ports: [EgressPort.tcp(22)],
      snat: EgressSnat.pool(['192.0.2.220']),
      logging: true,
    });
}

interface Step {
  readonly dir: string;
  readonly state?: DeployState;
}

async function deploy(emulators: Emulators, v: Version, before?: Step) {
  const dir = synth(v, (app) => build(app, v));
  const { state } = await deploySynthOutput(`${dir}/cdktf.out`, emulators, { previous: before?.state });
  await pushLists(dir, emulators);
  const results = await verifyAll(dir, emulators);
  return { step: { dir, state }, results };
}

/** The translation of a payments pod's flow to the partner and of a web pod's HTTPS flow, on what the device holds. */
function translations(results: Awaited<ReturnType<typeof verifyAll>>): unknown[] {
  const { firewall, state } = observedFirewall(results[0].observed, ['k8s_alpha'], new Map());
  const flow = (sourceIp: string, destinationIp: string, port: number) =>
    firewall.evaluate({ sourceIp, routeDomain: 0, destinationIp, protocol: 'tcp', port }, state).translatedSource;
  return [flow('10.1.2.10', '198.51.100.7', 22), flow('10.1.1.10', '203.0.113.9', 443)];
}

describe('on a BIG-IP the device owns', () => {
  const shared = false;
  let emulators: Emulators;
  let step: Step | undefined;
  beforeAll(async () => {
    emulators = await startEmulators({ bigip: { routeDomains: ROUTE_DOMAINS, dnsResolvers: [RESOLVER] } });
    for (const name of ['web', 'payments']) emulators.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });
  afterAll(async () => {
    await emulators.stop();
    removeSynthDirs();
  });
  const next = async (v: Version) => {
    const r = await deploy(emulators, { shared, ...v }, step);
    step = r.step;
    return r.results;
  };
  const devicePool = { by: 'virtual-server', snat: 'pool', pool: '/k8s_alpha/egress/snat_pool', addresses: ['192.0.2.200'] };

  test('1 without a rule with snat: the virtual server translates to the device pool', async () => {
    const results = await next({});
    expect(errorsOf(results)).toEqual([]);
    expect(translations(results)).toEqual([undefined, devicePool]);
  });

  test('2 the partner rule with its pool is added: a NAT policy translates payments to the partner from 192.0.2.220, the rest from the device pool', async () => {
    const results = await next({ partner: true });
    expect(errorsOf(results)).toEqual([]);
    expect(translations(results)).toEqual([
      { by: 'nat-rule', policy: '/k8s_alpha/egress/nat_policy', rule: 'n_payments_partner_tcp', addresses: ['192.0.2.220'] },
      { by: 'nat-rule', policy: '/k8s_alpha/egress/nat_policy', rule: 'default', addresses: ['192.0.2.200'] },
    ]);
  });

  test('3 the partner rule is removed: its lists go after the NAT policy stopped using them; verify passes', async () => {
    const results = await next({});
    expect(errorsOf(results)).toEqual([]);
    expect(translations(results)).toEqual([undefined, devicePool]);
  });
});

test('on a SharedBigip synth refuses a rule with snat, naming the rule', () => {
  expect(() => synth({ shared: true }, (app) => build(app, { shared: true, partner: true }))).toThrow(
    '[alpha/Partner] snat: per-rule translation is not supported on a SharedBigip: the tenant\'s NAT policy would use lists of the shared declaration, which deletes a list a changed rule no longer needs before the tenant stops using it; give the device its own BIG-IP connection, or leave snat out (the device\'s snat applies) (got EgressSnat.pool(["192.0.2.220"]))',
  );
});
