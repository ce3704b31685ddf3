import { refusal } from './synthesized';
/**
 * Duplicates that used to pass silently: two owners of one BIG-IP or tenant (one declaration or
 * artifact overwrote the other), two controllers for one device, and repeated entries of the
 * device's lists (AS3 refuses repeated virtual addresses; the rest is ambiguous). Each error
 * names both entries or both construct paths.
 */
import { App, TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, EgressController, EgressCrdStack, EgressSnat, SharedBigip } from '../../lib';
import { renderAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { parseCidr } from '../../lib/policy/ip';
import { synthJson } from '../support/app';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';
import { testDevice } from '../support/device';
import { issuesOf } from '../support/issues';

function app() {
  const a: App = Testing.app();
  const crds = refusal(() => new EgressCrdStack(a, 'crds'));
  const stack = (id: string) => {
    const s = new TerraformStack(a, id);
    new KubernetesProvider(s, 'k8s', {});
    return s;
  };
  return { app: a, crds, stack };
}

const own = (crds: EgressCrdStack, extra: Record<string, unknown> = {}): any => ({
  address: 'bigip.example.net',
  tlsCaBundlePath: '/ca.pem',
  crdStack: crds,
  ...extra,
});

describe('one owner per tenant and per BIG-IP', () => {
  test('two devices with one tenant in one stack (provider alias and artifact would collide), even on different BIG-IPs', () => {
    const { crds, stack } = app();
    const s = stack('egress');
    refusal(() => new AfmDevice(s, 'East', own(crds, { clusterName: 'east', tenant: 'k8s_prod', address: 'bigip-1.example.net' })));
    expect(
      issuesOf(() =>
        refusal(() => new AfmDevice(s, 'West', own(crds, { clusterName: 'west', tenant: 'k8s_prod', address: 'bigip-2.example.net' }))),
      ),
    ).toEqual([
      {
        path: 'egress/West',
        field: 'tenant',
        value: '"k8s_prod"',
        message:
          'device egress/East in the same stack already uses this tenant; their provider alias and policy artifact would collide: give each device its own tenant',
      },
    ]);
  });

  test('the default tenant counts: clusters "prod-a" and "prod_a" cannot both be derived to k8s_prod_a', () => {
    const { crds, stack } = app();
    const s = stack('egress');
    refusal(() => new AfmDevice(s, 'A', own(crds, { clusterName: 'prod-a', address: 'bigip-1.example.net' })));
    const issues = issuesOf(() =>
      refusal(() => new AfmDevice(s, 'B', own(crds, { clusterName: 'other', tenant: 'k8s_prod_a', address: 'bigip-2.example.net' }))),
    );
    expect(issues.map((i) => [i.field, i.value])).toEqual([['tenant', '"k8s_prod_a"']]);
  });

  test.each([
    ['the same host name in another case, default port', { address: 'BIGIP.Example.NET' }],
    ['the same host name with the explicit default port', { address: 'bigip.example.net', port: 443 }],
  ])('two devices in different stacks on one BIG-IP (%s) would replace each other\u2019s /Common/Shared', (_, second) => {
    const { crds, stack } = app();
    refusal(() => new AfmDevice(stack('east'), 'Bigip', own(crds, { clusterName: 'east' })));
    expect(issuesOf(() => refusal(() => new AfmDevice(stack('west'), 'Bigip', own(crds, { clusterName: 'west', ...second }))))).toEqual([
      {
        path: 'west/Bigip',
        field: 'address',
        value: JSON.stringify(second.address),
        message:
          "BIG-IP bigip.example.net:443 is already managed by AfmDevice east/Bigip; each would replace the other's /Common/Shared objects and global-context policy on every deploy: attach the clusters of one BIG-IP to one SharedBigip",
      },
    ]);
  });

  test('IPv6 management addresses are compared in canonical form', () => {
    const { crds, stack } = app();
    refusal(() => new AfmDevice(stack('east'), 'Bigip', own(crds, { clusterName: 'east', address: '[2001:DB8:0::10]', port: 8443 })));
    const issues = issuesOf(() =>
      refusal(() => new AfmDevice(stack('west'), 'Bigip', own(crds, { clusterName: 'west', address: '[2001:db8::10]', port: 8443 }))),
    );
    expect(issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^BIG-IP \[2001:db8::10\]:8443 is already managed by AfmDevice east\/Bigip;/),
    ]);
  });

  test('other ports or other hosts are other BIG-IPs', () => {
    const { crds, stack } = app();
    refusal(() => new AfmDevice(stack('east'), 'Bigip', own(crds, { clusterName: 'east' })));
    expect(() => refusal(() => new AfmDevice(stack('west'), 'Bigip', own(crds, { clusterName: 'west', port: 8443 })))).not.toThrow();
    expect(() =>
      refusal(() => new AfmDevice(stack('north'), 'Bigip', own(crds, { clusterName: 'north', address: 'bigip-2.example.net' }))),
    ).not.toThrow();
  });

  test('a SharedBigip and a device of its own on one BIG-IP, in either order, and two SharedBigips', () => {
    const first = app();
    refusal(() => new AfmDevice(first.stack('east'), 'Bigip', own(first.crds, { clusterName: 'east' })));
    expect(
      issuesOf(() =>
        refusal(() => new SharedBigip(first.stack('shared'), 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' })),
      ).map((i) => [i.path, i.field, i.message]),
    ).toEqual([
      ['shared/Dc1', 'address', expect.stringMatching(/^BIG-IP bigip.example.net:443 is already managed by AfmDevice east\/Bigip;/)],
    ]);

    const second = app();
    refusal(() => new SharedBigip(second.stack('shared'), 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }));
    expect(
      issuesOf(() => refusal(() => new AfmDevice(second.stack('east'), 'Bigip', own(second.crds, { clusterName: 'east' })))).map(
        (i) => i.message,
      ),
    ).toEqual([expect.stringMatching(/^BIG-IP bigip.example.net:443 is already managed by SharedBigip shared\/Dc1;/)]);
    expect(
      issuesOf(() =>
        refusal(
          () =>
            new SharedBigip(second.stack('shared2'), 'Dc1b', { name: 'other', address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }),
        ),
      ).map((i) => i.message),
    ).toEqual([expect.stringMatching(/^BIG-IP bigip.example.net:443 is already managed by SharedBigip shared\/Dc1;/)]);
  });

  test('devices of one SharedBigip are not owners: many of them share it', () => {
    const { crds, stack } = app();
    const bigip = refusal(() => new SharedBigip(stack('shared'), 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }));
    const clusters = stack('clusters');
    refusal(() => new AfmDevice(clusters, 'East', { clusterName: 'east', sharedBigip: bigip, crdStack: crds, podCidrs: ['10.1.0.0/16'] }));
    refusal(() => new AfmDevice(clusters, 'West', { clusterName: 'west', sharedBigip: bigip, crdStack: crds, podCidrs: ['10.2.0.0/16'] }));
    // One provider for both devices of the stack: an alias may appear once per configuration.
    expect(synthJson(clusters).provider.bigip).toEqual([expect.objectContaining({ alias: 'cdktf_ces', address: 'bigip.example.net' })]);
  });

  test('separate apps do not see each other', () => {
    const a = app();
    const b = app();
    refusal(() => new AfmDevice(a.stack('egress'), 'Bigip', own(a.crds, { clusterName: 'prod' })));
    expect(() => refusal(() => new AfmDevice(b.stack('egress'), 'Bigip', own(b.crds, { clusterName: 'prod' })))).not.toThrow();
  });
});

describe('one controller per device', () => {
  const controllerProps = { credentialsSecret: 'bigip-login', caBundleConfigMap: 'bigip-ca', image: 'registry.example/cdktf-ces:1' };

  test('a second EgressController for one device is refused, naming the first', () => {
    const { crds, stack } = app();
    const s = stack('egress');
    const device = refusal(() => new AfmDevice(s, 'Bigip', own(crds, { clusterName: 'prod' })));
    refusal(() => new EgressController(s, 'Controller', { device, ...controllerProps }));
    expect(
      issuesOf(() => refusal(() => new EgressController(s, 'Controller2', { device, ...controllerProps, namespace: 'other' }))),
    ).toEqual([
      {
        path: 'egress/Controller2',
        field: 'device',
        value: '"egress/Bigip"',
        message:
          "already has a controller (egress/Controller); two would fight over the device's lists: keep one EgressController per AfmDevice",
      },
    ]);
  });

  test('controllers of two devices with one clusterName in a stack would have the same object names', () => {
    const { crds, stack } = app();
    const s = stack('egress');
    const a = refusal(() => new AfmDevice(s, 'A', own(crds, { clusterName: 'prod', tenant: 'a', address: 'bigip-1.example.net' })));
    const b = refusal(() => new AfmDevice(s, 'B', own(crds, { clusterName: 'prod', tenant: 'b', address: 'bigip-2.example.net' })));
    refusal(() => new EgressController(s, 'ControllerA', { device: a, ...controllerProps }));
    expect(
      issuesOf(() => refusal(() => new EgressController(s, 'ControllerB', { device: b, ...controllerProps }))).map((i) => [
        i.path,
        i.field,
        i.message,
      ]),
    ).toEqual([
      [
        'egress/ControllerB',
        'device',
        'has clusterName "prod" like the device of controller egress/ControllerA in this stack; their Kubernetes objects would have the same names: one controller per cluster',
      ],
      [
        'egress/ControllerB',
        'namespace',
        'is created by controller egress/ControllerA of this stack too, and one stack cannot declare a Namespace twice: set createNamespace: false on egress/ControllerB (it then uses the namespace egress/ControllerA creates), or give each controller a namespace of its own',
      ],
    ]);
  });
});

describe('repeated entries of the device lists', () => {
  const device = (extra: Record<string, unknown>) => {
    const { crds, stack } = app();
    return () => refusal(() => new AfmDevice(stack('egress'), 'Bigip', own(crds, { clusterName: 'prod', ...extra })));
  };
  const fieldsOf = (fn: () => unknown) => issuesOf(fn).map((i) => [i.path, i.field, i.value, i.message]);

  test('podCidrs: repeated after canonical form, nested, or the whole address space', () => {
    expect(
      fieldsOf(device({ podCidrs: ['10.0.0.0/8', '10.0.0.0/8', '2001:DB8::/32', '2001:db8::/32', '10.244.0.0/16', '0.0.0.0/0', '::/0'] })),
    ).toEqual([
      ['egress/Bigip', 'podCidrs[1]', '"10.0.0.0/8"', 'repeats podCidrs[0] (10.0.0.0/8); list each pod CIDR once'],
      ['egress/Bigip', 'podCidrs[3]', '"2001:db8::/32"', 'repeats podCidrs[2] (2001:db8::/32); list each pod CIDR once'],
      ['egress/Bigip', 'podCidrs[4]', '"10.244.0.0/16"', 'lies inside podCidrs[0] (10.0.0.0/8); list each pod CIDR once'],
      [
        'egress/Bigip',
        'podCidrs[5]',
        '"0.0.0.0/0"',
        "is every IPv4 address, not the cluster's pods: every source behind the BIG-IP would count as a pod, and AS3 refuses the declaration (its virtual address pair [0.0.0.0/0, 0.0.0.0/0] repeats itself); list the cluster's pod CIDRs (the nodes' spec.podCIDRs, such as \"10.244.0.0/16\")",
      ],
      [
        'egress/Bigip',
        'podCidrs[6]',
        '"::/0"',
        "is every IPv6 address, not the cluster's pods: every source behind the BIG-IP would count as a pod, and AS3 refuses the declaration (its virtual address pair [::/0, ::/0] repeats itself); list the cluster's pod CIDRs (the nodes' spec.podCIDRs, such as \"fd00:10:244::/56\")",
      ],
    ]);
    expect(fieldsOf(device({ podCidrs: ['10.244.0.0/16', '10.0.0.0/8'] }))).toEqual([
      ['egress/Bigip', 'podCidrs[1]', '"10.0.0.0/8"', 'contains podCidrs[0] (10.244.0.0/16); list each pod CIDR once'],
    ]);
    expect(device({ podCidrs: ['10.244.0.0/16', '10.245.0.0/16', 'fd00:10:244::/56'] })).not.toThrow();
  });

  test('SNAT pool addresses, gateways, VLANs, syslog servers and log fields', () => {
    expect(fieldsOf(device({ snat: EgressSnat.pool(['192.0.2.200', '2001:DB8::1', '2001:db8::1']) }))).toEqual([
      ['egress/Bigip', 'snat', '"2001:db8::1"', 'SNAT pool address 3 is address 2 again (2001:db8::1); list each address once'],
    ]);
    expect(
      fieldsOf(
        device({
          gateways: ['192.0.2.1', '2001:db8::1', '2001:DB8:0:0::1'],
          vlans: ['/Common/k8s', '/Common/k8s'],
          logging: {
            syslogServers: ['192.0.2.50:514', '[2001:DB8::50]:514', '[2001:db8::50]:514', '192.0.2.50:6514'],
            fields: ['action', 'src-ip', 'action'],
          },
        }),
      ),
    ).toEqual([
      ['egress/Bigip', 'vlans[1]', '"/Common/k8s"', 'repeats vlans[0] (/Common/k8s); list each VLAN once'],
      ['egress/Bigip', 'gateways[2]', '"2001:DB8:0:0::1"', 'repeats gateways[1] (2001:db8::1); list each gateway address once'],
      [
        'egress/Bigip',
        'logging.syslogServers[2]',
        '"[2001:db8::50]:514"',
        'repeats logging.syslogServers[1] ([2001:db8::50]:514); list each syslog server once',
      ],
      ['egress/Bigip', 'logging.fields[2]', '"action"', 'repeats logging.fields[0] (action); list each field once'],
    ]);
  });

  test('a SNAT pool from JavaScript with a non-array or non-string addresses', () => {
    expect(fieldsOf(device({ snat: EgressSnat.pool(null as any) }))).toEqual([
      ['egress/Bigip', 'snat', 'null', 'EgressSnat.pool() takes an array of addresses, such as ["192.0.2.200", "192.0.2.201"]'],
    ]);
    expect(fieldsOf(device({ snat: EgressSnat.pool('192.0.2.200' as any) }))[0][3]).toMatch(/takes an array of addresses/);
    expect(fieldsOf(device({ snat: EgressSnat.pool([42] as any) }))).toEqual([
      ['egress/Bigip', 'snat', '42', 'SNAT pool address 1 must be an address string such as "192.0.2.200"'],
    ]);
    expect(fieldsOf(device({ snat: { mode: 'POOL', addresses: ['192.0.2.200'] } }))[0][3]).toBe(
      'expected EgressSnat.automap(), pool([...]) or none()',
    );
  });

  test('a SNAT pool is copied: changing the caller\u2019s array later changes nothing', () => {
    const addresses = ['192.0.2.200'];
    const snat = EgressSnat.pool(addresses);
    addresses.push('not an address');
    expect(device({ snat })).not.toThrow();
  });
});

describeWithAs3Schema('what the device list checks keep out of AS3', () => {
  // The renderer itself is given the model directly (no validation): this shows that the
  // refused inputs really give declarations F5's schema rejects.
  const errorsFor = (podCidrs: string[]) => {
    const device = testDevice({ podCidrs: podCidrs.map((c) => ({ kind: 'cidr', text: parseCidr(c).text, family: parseCidr(c).family })) });
    return as3Validator()!.validate(renderAs3(compilePolicy({ device, externalServices: [], rules: [] }))).errors;
  };

  test.each([[['0.0.0.0/0']], [['::/0']], [['10.0.0.0/8', '10.0.0.0/8']], [['2001:DB8::/32', '2001:db8::/32']]])(
    'podCidrs %p give a declaration the AS3 schema refuses',
    (podCidrs) => {
      expect(errorsFor(podCidrs).join('\n')).toMatch(/virtualAddresses/);
    },
  );

  test('accepted podCidrs give a valid declaration', () => {
    expect(errorsFor(['10.244.0.0/16', '10.0.0.0/16', 'fd00:10:244::/56'])).toEqual([]);
  });
});
