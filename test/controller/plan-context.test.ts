/**
 * The controller's plan carries the context state the deploy attaches, owned by the device or
 * by its SharedBigip, so that the controller can check the device without the compiler.
 */
import { TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, EgressCrdStack, SharedBigip } from '../../lib';
import { expectedDeviceState, ownDeviceState } from '../../lib/afm/device-state';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import { deviceStack } from '../support/app';

describe('SyncPlan context', () => {
  test('a device that owns its BIG-IP: its tenant owns the global and route-domain policies', () => {
    const { device } = deviceStack({ routeDomain: 2 });
    const compiled = device._compile();
    const state = ownDeviceState(compiled);
    expect(buildSyncPlan(compiled, 'own').context).toEqual({
      owner: compiled.model.device.tenant,
      global: state.global,
      routeDomains: [
        {
          id: 2,
          path: '/Common/2',
          enforcedPolicy: state.routeDomains[0].enforcedPolicy,
          stagedPolicy: state.routeDomains[0].stagedPolicy,
        },
      ],
      dnsResolver: '/Common/egress-resolver',
      usesFqdns: false,
    });
    // The policy artifact's plan has no context (tools recompile it from the model).
    expect(buildSyncPlan(compiled).context).toBeUndefined();
  });

  test('a device on a SharedBigip: the SharedBigip owns the policies; only its own route domain is listed', () => {
    const app = Testing.app();
    const crds = new EgressCrdStack(app, 'crds');
    const bigip = new SharedBigip(new TerraformStack(app, 'bigip'), 'Dc1', {
      address: 'bigip.example.net',
      tlsCaBundlePath: '/ca.pem',
      dnsResolver: '/Common/r1',
    });
    const stack = new TerraformStack(app, 'egress');
    new KubernetesProvider(stack, 'k8s', {});
    const [east, west] = (['east', 'west'] as const).map(
      (name, i) => new AfmDevice(stack, name, { clusterName: name, sharedBigip: bigip, crdStack: crds, routeDomain: i + 2 }),
    );
    const state = expectedDeviceState(bigip.name, [east._compile(), west._compile()], bigip.dnsResolver);
    const context = buildSyncPlan(west._compile(), { name: bigip.name, dnsResolver: bigip.dnsResolver }).context;
    expect(context?.owner).toBe(bigip.name);
    expect(context?.global).toEqual(state.global);
    expect(context?.routeDomains).toEqual([state.routeDomains.find((rd) => rd.id === 3)]);
    expect(context?.dnsResolver).toBe('/Common/r1');
  });
});
