import { refusal } from './synthesized';
import { App, TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination as D,
  NamespaceEgressRule,
  ServiceEgressRule,
  SharedBigip,
} from '../../lib';
import { synthJson } from '../support/app';

function setup(sharedInOwnStack = true) {
  const app: App = Testing.app();
  const crds = refusal(() => new EgressCrdStack(app, 'crds'));
  const sharedStack = new TerraformStack(app, 'bigip');
  const stack = sharedInOwnStack ? new TerraformStack(app, 'clusters') : sharedStack;
  new KubernetesProvider(stack, 'k8s', {});
  const bigip = refusal(
    () => new SharedBigip(sharedStack, 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem', dnsResolver: '/Common/r' }),
  );
  const device = (id: string, clusterName: string, routeDomain: number, podCidrs?: string[]) =>
    refusal(() => new AfmDevice(stack, id, { clusterName, sharedBigip: bigip, routeDomain, podCidrs, crdStack: crds }));
  return { app, stack, sharedStack, bigip, device };
}

function synthError(app: App): string {
  try {
    app.synth();
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('SharedBigip', () => {
  test('owns /Common/Shared for every cluster: one global policy, one policy per route domain', () => {
    const { sharedStack, stack, device } = setup();
    const east = device('East', 'east', 2, ['10.244.0.0/16']);
    const west = device('West', 'west', 3, ['10.244.0.0/16']);
    new ClusterEgressRule(stack, 'EastDns', { device: east, action: EgressAction.ALLOW_FINAL, destinations: [D.address('10.96.0.10')] });
    new NamespaceEgressRule(stack, 'WestWeb', {
      device: west,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.fqdn('api.example.com')],
    });
    const shared = JSON.parse((Object.values(synthJson(sharedStack).resource.bigip_as3)[0] as { as3_json: string }).as3_json).declaration;
    expect(Object.keys(shared).filter((k) => shared[k]?.class === 'Tenant')).toEqual(['Common']);
    const app = shared.Common.Shared;
    expect(app.cdktf_ces_global_policy.rules).toEqual([{ use: 'k8s_east_cluster_rules' }, { use: 'k8s_west_cluster_rules' }]);
    expect(app.cdktf_ces_rd2_policy).toMatchObject({
      rules: [{ use: 'k8s_east_namespace_rules' }],
      routeDomainEnforcement: [{ bigip: '/Common/2' }],
    });
    expect(app.cdktf_ces_rd3_policy).toMatchObject({
      rules: [{ use: 'k8s_west_namespace_rules' }],
      routeDomainEnforcement: [{ bigip: '/Common/3' }],
    });
    // East's ALLOW_FINAL over every pod matches its pod CIDRs, with no list to fill.
    expect(app.k8s_east_src_pod_cidrs.addresses).toEqual(['10.244.0.0%2/16']);
    expect(app.k8s_west_src_ns_web).toBeDefined();
    // Each cluster's own declaration holds only its tenant, and its stack depends on the shared one.
    const tenants = Object.values(synthJson(stack).resource.bigip_as3).map((r: any) =>
      Object.keys(JSON.parse(r.as3_json).declaration).filter((k) => JSON.parse(r.as3_json).declaration[k]?.class === 'Tenant'),
    );
    expect(tenants).toEqual([['k8s_east'], ['k8s_west']]);
    // GET /declare/<tenant> returns Common too, and AS3 keeps the id of the last request: without
    // ignore_metadata every plan would show a change (provider #869, #1148).
    expect(
      [...Object.values(synthJson(stack).resource.bigip_as3), ...Object.values(synthJson(sharedStack).resource.bigip_as3)].map(
        (r: any) => r.ignore_metadata,
      ),
    ).toEqual([true, true, true]);
    expect(stack.dependencies.map((s) => s.node.id)).toEqual(['crds', 'bigip']);
    // Only the SharedBigip attaches the global policy and sets the FQDN resolver.
    expect(synthJson(stack).resource.bigip_command).toBeUndefined();
    const commands = Object.values(synthJson(sharedStack).resource.bigip_command).map((c: any) => c.commands);
    expect(commands).toContainEqual(['modify security firewall global-fqdn-policy dns-resolver /Common/r', 'save sys config']);
    expect(commands).toContainEqual([
      'modify security firewall global-rules enforced-policy /Common/Shared/cdktf_ces_global_policy staged-policy /Common/Shared/cdktf_ces_global_policy_staged',
      'modify net route-domain /Common/2 fw-staged-policy /Common/Shared/cdktf_ces_rd2_policy_staged',
      'modify net route-domain /Common/3 fw-staged-policy /Common/Shared/cdktf_ces_rd3_policy_staged',
      'save sys config',
    ]);
  });

  test('devices in the shared BIG-IP\u2019s stack use its provider and wait for its declaration', () => {
    const { stack, device, bigip } = setup(false);
    const east = device('East', 'east', 0);
    expect(east.provider).toBe(bigip.provider);
    const tf = synthJson(stack);
    const own = Object.entries(tf.resource.bigip_as3).find(([k]) => k.startsWith('East'))?.[1] as { depends_on: string[] };
    expect(own.depends_on).toEqual([expect.stringMatching(/^bigip_as3\.Dc1_/)]);
  });

  test('a device on a shared BIG-IP takes its connection and resolver from it', () => {
    const { app, bigip } = setup();
    const crds = refusal(() => new EgressCrdStack(app, 'crds2'));
    const stack = new TerraformStack(app, 'x');
    expect(() =>
      refusal(
        () =>
          new AfmDevice(stack, 'D', {
            clusterName: 'x',
            sharedBigip: bigip,
            crdStack: crds,
            address: '192.0.2.1',
            dnsResolver: '/Common/other',
          }),
      ),
    ).toThrow(
      /\[x\/D\] address: comes from the SharedBigip this device uses; set it there, not on the device \(got "192.0.2.1"\)\n\[x\/D\] dnsResolver: the FQDN resolver is global to the BIG-IP; set it on the SharedBigip/,
    );
  });

  test('clusters with overlapping pod CIDRs in one route domain are refused', () => {
    const { app, device } = setup();
    device('East', 'east', 0, ['10.244.0.0/16']);
    device('West', 'west', 0, ['10.244.128.0/17']);
    expect(synthError(app)).toContain(
      `[bigip/Dc1] [clusters/West] podCidrs: overlaps pod CIDR 10.244.0.0/16 of clusters/East in route domain 0, so the firewall could not tell the clusters' pods apart; put one cluster in another routeDomain (got "10.244.128.0/17")`,
    );
  });

  test('two clusters cannot use one tenant, and an unused SharedBigip is an error', () => {
    const { app, stack, bigip } = setup();
    const crds = refusal(() => new EgressCrdStack(app, 'crds3'));
    refusal(() => new AfmDevice(stack, 'A', { clusterName: 'a', tenant: 'same', sharedBigip: bigip, crdStack: crds }));
    // In another stack: the provider aliases differ, the BIG-IP partition does not.
    const other = new TerraformStack(app, 'more');
    expect(() =>
      refusal(() => new AfmDevice(other, 'B', { clusterName: 'b', tenant: 'same', sharedBigip: bigip, crdStack: crds })),
    ).toThrow(
      /^\[more\/B\] tenant: device clusters\/A on the same SharedBigip \(bigip\/Dc1\) already uses this tenant; each would replace the other's declaration: give each cluster its own tenant \(got "same"\)$/,
    );
    const lonely = Testing.app();
    refusal(() => new SharedBigip(new TerraformStack(lonely, 's'), 'B', { address: 'b.example.net', tlsCaBundlePath: '/ca' }));
    expect(synthError(lonely)).toContain(
      '[s/B] devices: no AfmDevice uses this SharedBigip: attach devices with their sharedBigip prop, or remove the SharedBigip (got none)',
    );
  });

  test('FQDN destinations need the SharedBigip\u2019s resolver', () => {
    const app = Testing.app();
    const crds = refusal(() => new EgressCrdStack(app, 'crds'));
    const stack = new TerraformStack(app, 's');
    new KubernetesProvider(stack, 'k8s', {});
    const bigip = refusal(() => new SharedBigip(stack, 'B', { address: 'b.example.net', tlsCaBundlePath: '/ca' }));
    const device = refusal(() => new AfmDevice(stack, 'D', { clusterName: 'd', sharedBigip: bigip, crdStack: crds }));
    new ClusterEgressRule(stack, 'R', { device, action: EgressAction.ALLOW, destinations: [D.fqdn('a.example.com')] });
    expect(synthError(app)).toMatch(
      /\[s\/D\] dnsResolver: FQDN destinations .* set dnsResolver \(on the AfmDevice, or on its SharedBigip\)/,
    );
  });
});

test('clusters sharing a route domain must say which sources are theirs', () => {
  const app = Testing.app();
  const crds = refusal(() => new EgressCrdStack(app, 'crds'));
  const stack = new TerraformStack(app, 's');
  const bigip = refusal(() => new SharedBigip(stack, 'B', { address: 'b.example.net', tlsCaBundlePath: '/ca' }));
  refusal(() => new AfmDevice(stack, 'A', { clusterName: 'a', sharedBigip: bigip, crdStack: crds, podCidrs: ['10.1.0.0/16'] }));
  refusal(() => new AfmDevice(stack, 'C', { clusterName: 'c', sharedBigip: bigip, crdStack: crds }));
  expect(synthError(app)).toContain(
    "[s/B] [s/C] podCidrs: are not set, and this device shares route domain 0 with s/A, so their egress virtual servers would take the same sources: set each cluster's podCidrs, or put one cluster in another routeDomain (got nothing)",
  );
});

describe('SharedBigip: what only the shared declaration can see', () => {
  test('two tenants whose object names run into each other fail synth instead of writing an empty declaration', () => {
    const { app, stack, bigip } = setup();
    const crds = app.node.findChild('crds') as EgressCrdStack;
    // Tenant k8s's service source list for namespace "src", service "cluster" and tenant
    // k8s_src_svc's cluster source list (of an ALLOW: a list the controller fills) are both
    // /Common/Shared/k8s_src_svc_src_cluster.
    const a = refusal(
      () =>
        new AfmDevice(stack, 'A', {
          clusterName: 'east',
          tenant: 'k8s',
          sharedBigip: bigip,
          routeDomain: 2,
          podCidrs: ['10.1.0.0/16'],
          crdStack: crds,
        }),
    );
    const b = refusal(
      () =>
        new AfmDevice(stack, 'B', {
          clusterName: 'west',
          tenant: 'k8s_src_svc',
          sharedBigip: bigip,
          routeDomain: 3,
          podCidrs: ['10.2.0.0/16'],
          crdStack: crds,
        }),
    );
    new ServiceEgressRule(stack, 'Svc', {
      device: a,
      namespace: 'src',
      service: 'cluster',
      action: EgressAction.ALLOW,
      destinations: [D.address('192.0.2.1')],
    });
    new ClusterEgressRule(stack, 'Dns', { device: b, action: EgressAction.ALLOW, destinations: [D.address('10.96.0.10')] });
    expect(synthError(app)).toMatch(/k8s_src_svc_src_cluster would be declared both by clusters\/A and by clusters\/B/);
  });
});

describe('SharedBigip: clusters in one route domain (B8)', () => {
  test('each egress virtual server shares the wildcard virtual address through AS3 (shareAddresses), instead of declaring it in its own partition', () => {
    const { stack, device } = setup();
    device('East', 'east', 0, ['10.1.0.0/16']);
    device('West', 'west', 0, ['10.2.0.0/16']);
    const servers = Object.values(synthJson(stack).resource.bigip_as3).map((r: any) => {
      const decl = JSON.parse(r.as3_json).declaration;
      const tenant = Object.keys(decl).find((k) => decl[k]?.class === 'Tenant') as string;
      return decl[tenant].egress.egress_vs;
    });
    // A virtual address exists once per device: declared by two partitions it fails with "Invalid
    // Virtual Address, the IP address ... already exists" (AS3 #741); AS3 keeps a shared one in
    // /Common with a count of the tenants using it.
    expect(servers.map((vs) => [vs.shareAddresses, vs.virtualAddresses])).toEqual([
      [true, [['0.0.0.0/0', '10.1.0.0/16']]],
      [true, [['0.0.0.0/0', '10.2.0.0/16']]],
    ]);
    // Each tenant points into /Common/Shared at its own two virtual-server policies, by BIG-IP path.
    expect(servers.map((vs) => [vs.policyFirewallEnforced, vs.policyFirewallStaged])).toEqual([
      [{ bigip: '/Common/Shared/k8s_east_vs_policy' }, { bigip: '/Common/Shared/k8s_east_vs_policy_staged' }],
      [{ bigip: '/Common/Shared/k8s_west_vs_policy' }, { bigip: '/Common/Shared/k8s_west_vs_policy_staged' }],
    ]);
  });

  test('a device that owns its BIG-IP keeps the address in its own partition', () => {
    const app = Testing.app();
    const crds = refusal(() => new EgressCrdStack(app, 'crds'));
    const stack = new TerraformStack(app, 's');
    refusal(
      () =>
        new AfmDevice(stack, 'A', {
          clusterName: 'a',
          address: 'b.example.net',
          tlsCaBundlePath: '/ca',
          crdStack: crds,
          podCidrs: ['10.1.0.0/16'],
        }),
    );
    const decl = JSON.parse((Object.values(synthJson(stack).resource.bigip_as3)[0] as any).as3_json).declaration;
    expect(decl.k8s_a.egress.egress_vs.shareAddresses).toBeUndefined();
    expect(decl.k8s_a.egress.egress_vs.persistenceMethods).toEqual([]);
  });
});

describe('SharedBigip: route domains by name (B6)', () => {
  test('one route domain has one name and one id across the clusters of a BIG-IP', () => {
    const { app, stack, bigip } = setup();
    const crds = app.node.findChild('crds') as EgressCrdStack;
    const named = (id: string, routeDomain: number, routeDomainName: string, cidr: string) =>
      refusal(
        () =>
          new AfmDevice(stack, id, {
            clusterName: id.toLowerCase(),
            sharedBigip: bigip,
            routeDomain,
            routeDomainName,
            podCidrs: [cidr],
            crdStack: crds,
          }),
      );
    named('East', 2, '/Common/rd_prod', '10.1.0.0/16');
    named('West', 2, '/Common/rd_test', '10.2.0.0/16');
    expect(synthError(app)).toMatch(
      /\[bigip\/Dc1\] \[clusters\/West\] routeDomainName: route domain 2 on this BIG-IP is \/Common\/rd_prod for clusters\/East; one route domain has one name: give both devices the same routeDomainName \(BIG-IP shared as cdktf_ces\) \(got "\/Common\/rd_test"\)/,
    );
  });

  test('the route-domain policy is enforced on the route domain by its name', () => {
    const { app, stack, sharedStack, bigip } = setup();
    const crds = app.node.findChild('crds') as EgressCrdStack;
    refusal(
      () =>
        new AfmDevice(stack, 'East', {
          clusterName: 'east',
          sharedBigip: bigip,
          routeDomain: 2,
          routeDomainName: '/Common/rd_prod',
          podCidrs: ['10.1.0.0/16'],
          crdStack: crds,
        }),
    );
    const shared = JSON.parse((Object.values(synthJson(sharedStack).resource.bigip_as3)[0] as any).as3_json).declaration.Common.Shared;
    expect(shared.cdktf_ces_rd2_policy.routeDomainEnforcement).toEqual([{ bigip: '/Common/rd_prod' }]);
    const commands = Object.values(synthJson(sharedStack).resource.bigip_command).flatMap((c: any) => c.commands);
    expect(commands).toContain('list net route-domain /Common/rd_prod');
    expect(commands).toContain('modify net route-domain /Common/rd_prod fw-staged-policy /Common/Shared/cdktf_ces_rd2_policy_staged');
  });
});
