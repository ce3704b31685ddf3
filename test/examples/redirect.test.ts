/**
 * examples/f5-capabilities/redirect.ts synthesizes: the redirect listeners are in the AS3,
 * which F5's schema accepts, and explain-level evaluation sends each rule's flows to its
 * gateways.
 */
import { TerraformStack } from 'cdktf';
import { addRedirect } from '../../examples/f5-capabilities/redirect';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { toRedirectEgress } from '../../lib/testing';
import { as3Of, deviceStack, synthJson } from '../support/app';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';

function build() {
  const { stack, device } = deviceStack({ clusterName: 'prod', podCidrs: ['10.244.0.0/16'], gateways: ['192.0.2.1'] });
  addRedirect(stack, device);
  return stack as TerraformStack;
}

describeWithAs3Schema('example: redirection', () => {
  test('synthesizes schema-valid AS3 with one listener per rule and protocol and a pool per redirect', () => {
    const as3 = as3Of(build());
    const app = as3.declaration.k8s_prod.egress;
    expect(
      Object.keys(app)
        .filter((k) => k.startsWith('rdr_'))
        .sort(),
    ).toEqual([
      'rdr_c_partner-network_dst',
      'rdr_c_partner-network_tcp',
      'rdr_inspection-proxies',
      'rdr_n_shop_shop-web-through-proxy_dst',
      'rdr_n_shop_shop-web-through-proxy_tcp',
      'rdr_partner-gw',
    ]);
    expect(app['rdr_partner-gw'].members).toEqual([{ servicePort: 0, serverAddresses: ['192.0.2.30'] }]);
    expect(as3Validator()!.validate(as3)).toEqual({ valid: true, errors: [] });
  });

  test('the flows of each rule leave through its redirect; others through the device gateways', () => {
    const stack = build();
    const as3 = as3Of(stack);
    const commands = Object.values(synthJson(stack).resource.bigip_command as Record<string, { commands: string[] }>).flatMap(
      (c) => c.commands,
    );
    const firewall = AfmFirewall.load(as3, commands);
    const shopWeb = firewall.eventLists.find((l) => l.includes('src_ns_shop_'))!;
    const cluster = firewall.eventLists.find((l) => l.endsWith('_src_cluster'))!;
    const state = firewall.listState(
      new Map([
        [shopWeb, ['10.244.1.5']],
        [cluster, ['10.244.1.5', '10.244.2.9']],
      ]),
    );
    const hop = (sourceIp: string, destinationIp: string, port: number) =>
      firewall.evaluate({ sourceIp, routeDomain: 0, destinationIp, protocol: 'tcp', port }, state).nextHop?.gateways;
    expect(hop('10.244.1.5', '93.184.216.34', 443)).toEqual(['192.0.2.21', '192.0.2.22']);
    expect(hop('10.244.1.5', '198.51.100.7', 22)).toEqual(['192.0.2.30']);
    // Another pod of the cluster to the partner: the partner gateway (a cluster rule).
    expect(hop('10.244.2.9', '198.51.100.7', 8443)).toEqual(['192.0.2.30']);
    // The web pods' HTTPS to the partner network: the proxies.
    expect(hop('10.244.1.5', '198.51.100.7', 443)).toEqual(['192.0.2.21', '192.0.2.22']);
  });
});

describe('example: redirection through the matchers', () => {
  test('toRedirectEgress names the redirect a flow leaves through, and fails with the explanation otherwise', () => {
    const stack = build();
    const web = { labels: { app: 'web' } };
    expect(toRedirectEgress(stack, 'shop/web', '93.184.216.34:443', 'inspection-proxies', web).pass).toBe(true);
    expect(toRedirectEgress(stack, 'shop/web', '198.51.100.7:22', 'partner-gw', web).pass).toBe(true);
    const miss = toRedirectEgress(stack, 'shop/web', '198.51.100.7:22', 'inspection-proxies', web);
    expect(miss.pass).toBe(false);
    expect(miss.message()).toContain(
      'expected egress from shop/web to 198.51.100.7:22 to be allowed and redirected to "inspection-proxies", but it leaves through redirect "partner-gw"',
    );
    expect(miss.message()).toContain(
      '  next hop: gateway 192.0.2.30 (redirect "partner-gw", virtual server /k8s_prod/egress/rdr_c_partner-network_tcp)',
    );
  });
});
