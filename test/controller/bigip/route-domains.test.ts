/**
 * A device with namespaces in route domains of their own, deployed to the BIG-IP emulator: the
 * route domains are prerequisites (AS3 cannot create them), the tmsh commands attach their
 * staged policies, and the controller's client posts pods of mapped namespaces as `ip%id`.
 */
import { deviceCommands, renderAs3 } from '../../../lib/afm/as3';
import { BigipClient } from '../../../lib/clients/bigip';
import { compilePolicy } from '../../../lib/policy/compile';
import { buildDevice } from '../../../lib/policy/device';
import { EgressDestination as D } from '../../../lib/policy/destination';
import { buildRule } from '../../../lib/policy/schema';
import { serviceDiscoveryTaskId } from '../../../lib/policy/object-names';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { clientFor } from './support';

const compiled = compilePolicy({
  device: buildDevice({
    path: 'app/stack/Bigip',
    clusterName: 'prod',
    podCidrs: ['10.244.0.0/16'],
    namespaceRouteDomains: [
      { namespace: 'tenant-a', routeDomain: 11, vlans: ['/Common/vlan-a'], podCidrs: ['10.16.0.0/16'] },
      { namespace: 'tenant-b', routeDomain: 12, routeDomainName: '/Common/rd_b', vlans: ['/Common/vlan-b'], podCidrs: ['10.16.0.0/16'] },
    ],
  }),
  externalServices: [],
  rules: [
    buildRule({
      level: 'namespace',
      path: 'app/stack/a',
      name: 'partner',
      namespace: 'tenant-a',
      action: 'ALLOW',
      destinations: [D.cidr('198.51.100.0/24')],
    }),
  ],
});
const declaration = JSON.parse(JSON.stringify(renderAs3(compiled))) as object;
const LIST = serviceDiscoveryTaskId('/Common/Shared/k8s_prod_src_ns_tenant-a');

describe('namespaces in route domains of their own, on the emulated BIG-IP', () => {
  let device: BigipEmulator | undefined;
  let client: BigipClient | undefined;
  afterEach(async () => {
    await client?.close();
    await device?.stop();
    client = undefined;
    device = undefined;
  });

  test('without the route domains the declaration fails: AS3 cannot create them', async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, existingObjects: ['/Common/vlan-a', '/Common/vlan-b'] });
    client = clientFor(device);
    await expect(client.declare(declaration, { pollIntervalMs: 1 })).rejects.toThrow(/Unable to find \/Common\/11 for/);
    expect(device.partitionConfig('k8s_prod')).toBeUndefined();
  });

  test('with them: deployed, staged policies attached by tmsh, members posted as ip%id', async () => {
    device = await BigipEmulator.start({
      as3OperationMs: 0,
      routeDomains: ['/Common/0', '/Common/11', '/Common/rd_b'],
      routeDomainIds: { '/Common/rd_b': 12 },
      existingObjects: ['/Common/vlan-a', '/Common/vlan-b'],
    });
    client = clientFor(device);
    await client.declare(declaration, { pollIntervalMs: 1 });
    for (const command of deviceCommands(compiled).apply) await client.runTmsh(command);
    expect(device.routeDomain('/Common/11')).toEqual({
      enforcedPolicy: '/Common/Shared/k8s_prod_rd11_policy',
      stagedPolicy: '/Common/Shared/k8s_prod_rd11_policy_staged',
    });
    expect(device.routeDomain('/Common/rd_b')).toEqual({
      enforcedPolicy: '/Common/Shared/k8s_prod_rd12_policy',
      stagedPolicy: '/Common/Shared/k8s_prod_rd12_policy_staged',
    });

    await client.replaceListMembers(LIST, ['10.16.0.5%11', '10.16.0.6%11'], 0, { ownRouteDomains: true });
    expect(device.listMembers(LIST)).toEqual(['10.16.0.5%11', '10.16.0.6%11']);
    // Without the plan's say-so a suffix is refused, and never for the list's own route domain.
    await expect(client.replaceListMembers(LIST, ['10.16.0.5%11'])).rejects.toThrow(/without a route domain/);
    await expect(client.replaceListMembers(LIST, ['10.16.0.5%2'], 2, { ownRouteDomains: true })).rejects.toThrow(
      /with a route domain other than the list's/,
    );
    expect(device.listMembers(LIST)).toEqual(['10.16.0.5%11', '10.16.0.6%11']);
  });
});
