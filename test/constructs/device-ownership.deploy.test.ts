/**
 * What AS3 cannot set, deployed as Terraform would deploy the synth output to the faithful BIG-IP
 * emulator (`deploySynthOutput` applies the provider's checks, gaps included, in Terraform's
 * order and with Terraform's conditions): each deploy takes effect and leaves the device as
 * `expectedDeviceState` says, or fails loudly; nothing another owner attached is taken over.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  AfmDeviceProps,
  BandwidthUnit,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination as D,
  EgressPort as P,
  NamespaceEgressRule,
  ServiceEgressRule,
  SharedBigip,
} from '../../lib';
import { DeviceState, expectedDeviceState, ownDeviceState } from '../../lib/afm/device-state';
import { BigipEmulatorOptions } from '../emulators/bigip/emulator';
import { DeployError, DeployResult, Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { AS3_SCHEMA_PATH } from '../support/as3-schema';

const outdirs: string[] = [];
let emulators: Emulators | undefined;

afterEach(async () => {
  await emulators?.stop();
  emulators = undefined;
  for (const d of outdirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Emulators (the previous ones stopped), with the namespaces the rules live in. */
async function start(options: BigipEmulatorOptions = {}): Promise<Emulators> {
  await emulators?.stop();
  emulators = await startEmulators({
    bigip: {
      as3SchemaPath: fs.existsSync(AS3_SCHEMA_PATH) ? AS3_SCHEMA_PATH : undefined,
      dnsResolvers: ['/Common/egress-resolver'],
      as3OperationMs: 1,
      ...options,
    },
  });
  for (const name of ['web', 'payments', 'ops']) emulators.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return emulators;
}

/** Synthesizes an app built by `build` into a fresh folder. */
function synth(build: (app: App, crds: EgressCrdStack) => void): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-ownership-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  build(app, new EgressCrdStack(app, 'crds'));
  app.synth();
  return outdir;
}

const CONNECTION = { address: 'bigip.example.net', tlsCaBundlePath: '/etc/ssl/bigip-ca.pem' };

/** One cluster owning its BIG-IP, with the rules `rules` adds. */
function ownDevice(
  rules: (stack: TerraformStack, device: AfmDevice) => void,
  props: Partial<AfmDeviceProps> = {},
): { outdir: string; device: () => AfmDevice } {
  let device: AfmDevice | undefined;
  const outdir = synth((app, crds) => {
    const stack = new TerraformStack(app, 'egress');
    new KubernetesProvider(stack, 'k8s', {});
    device = new AfmDevice(stack, 'Bigip', {
      clusterName: 'prod',
      ...CONNECTION,
      crdStack: crds,
      dnsResolver: '/Common/egress-resolver',
      podCidrs: ['10.244.0.0/16'],
      ...props,
    });
    rules(stack, device);
  });
  return { outdir, device: () => device as AfmDevice };
}

const dns = (stack: TerraformStack, device: AfmDevice) =>
  new ClusterEgressRule(stack, `Dns${device.node.id}`, {
    device,
    action: EgressAction.ALLOW_FINAL,
    destinations: [D.address('10.96.0.10')],
    ports: [P.DNS_UDP],
  });

/** Every per-tenant result of the deploy's AS3 tasks, those the provider reads and those it does not. */
async function as3Results(e: Emulators, result: Pick<DeployResult, 'as3TaskIds'>): Promise<string[]> {
  const out: string[] = [];
  for (const id of result.as3TaskIds)
    for (const r of (await e.bigipClient.getAs3Task(id)).results)
      out.push(`${r.tenant} ${r.code}${r.code === 200 ? '' : ` ${r.response ?? r.message}`}`);
  return out;
}

/** The device holds exactly the attachments and resolver the state expects. */
function expectHolds(e: Emulators, state: DeviceState): void {
  expect(e.bigip.globalRules()).toEqual(state.global);
  for (const rd of state.routeDomains)
    expect(e.bigip.routeDomain(rd.path)).toEqual({ enforcedPolicy: rd.enforcedPolicy, stagedPolicy: rd.stagedPolicy });
  expect(e.bigip.globalFqdnResolver()).toBe(state.dnsResolver);
}

async function deployError(promise: Promise<unknown>): Promise<DeployError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof DeployError) return e;
    throw e;
  }
  throw new Error('expected the deploy to fail');
}

describe('a device that owns its BIG-IP', () => {
  test('B2: turning audit off deploys cleanly, every AS3 pass included, and the attachments stay', async () => {
    const e = await start();
    const audited = ownDevice((stack, device) => {
      dns(stack, device);
      new NamespaceEgressRule(stack, 'Trial', {
        device,
        namespace: 'web',
        action: EgressAction.DENY,
        audit: true,
        destinations: [D.cidr('198.51.100.0/24')],
      });
    });
    const first = await deploySynthOutput(audited.outdir, e);

    const plain = ownDevice((stack, device) => {
      dns(stack, device);
      new NamespaceEgressRule(stack, 'Trial', {
        device,
        namespace: 'web',
        action: EgressAction.DENY,
        destinations: [D.cidr('198.51.100.0/24')],
      });
    });
    const second = await deploySynthOutput(plain.outdir, e, { previous: first.state });
    // AS3 processes Common first and last; the provider reads only the first pass and the tenant,
    // so a refusal in the last pass (deleting a policy still attached) would pass unnoticed.
    expect(await as3Results(e, second)).toEqual(['Common 200', 'k8s_prod 200', 'Common 200']);
    expectHolds(e, ownDeviceState(audited.device()._compile()));
    expectHolds(e, ownDeviceState(plain.device()._compile()));
    // The attachments did not change, so no tmsh command ran again.
    expect(second.applied).toEqual([expect.stringMatching(/^egress:bigip_as3\./)]);
    expect(Object.keys(e.bigip.partitionConfig('Common')?.Shared as object).filter((k) => k.endsWith('_staged'))).toEqual([
      'k8s_prod_vs_policy_staged',
      'k8s_prod_global_policy_staged',
      'k8s_prod_rd0_policy_staged',
    ]);
  });

  test('B2: moving to another route domain releases the old one first, so the declaration deletes its policies cleanly', async () => {
    const e = await start({ routeDomains: ['/Common/0', '/Common/2', '/Common/3'] });
    const first = await deploySynthOutput(ownDevice(dns, { routeDomain: 2 }).outdir, e);
    const moved = ownDevice(dns, { routeDomain: 3 });
    const second = await deploySynthOutput(moved.outdir, e, { previous: first.state });
    expect(second.destroyed).toEqual([expect.stringMatching(/^egress:bigip_command\.Bigip_ContextsReleaseRd2_/)]);
    expect(await as3Results(e, second)).toEqual(['Common 200', 'k8s_prod 200', 'Common 200']);
    expect(e.bigip.routeDomain('/Common/2')).toEqual({});
    expectHolds(e, ownDeviceState(moved.device()._compile()));
  });

  test('B5: the FQDN resolver is in place before the declaration that creates FQDN lists', async () => {
    const e = await start();
    const resolverAtPost: (string | undefined)[] = [];
    const submit = e.bigipClient.submitAs3.bind(e.bigipClient);
    e.bigipClient.submitAs3 = (declaration, tenants) => {
      resolverAtPost.push(e.bigip.globalFqdnResolver());
      return submit(declaration, tenants);
    };
    const { outdir } = ownDevice((stack, device) => {
      new NamespaceEgressRule(stack, 'Stripe', {
        device,
        namespace: 'payments',
        action: EgressAction.ALLOW,
        destinations: [D.fqdn('api.stripe.com')],
        ports: [P.HTTPS],
      });
    });
    const result = await deploySynthOutput(outdir, e);
    expect(resolverAtPost).toEqual(['/Common/egress-resolver']);
    const applied = result.applied.map((a) =>
      a.replace(/^egress:\w+\.Bigip_(?:(\w+?)_)?[0-9A-F]{8}$/, (_, id: string | undefined) => id ?? 'declaration'),
    );
    expect(applied.filter((a) => !/Release/.test(a))).toEqual(['ContextsIntent', 'ContextsRead', 'Resolver', 'declaration', 'Contexts']);
  });

  test('changing the resolver releases the one this device set, so the new one replaces nothing foreign', async () => {
    const e = await start({ dnsResolvers: ['/Common/egress-resolver', '/Common/second-resolver'] });
    const first = await deploySynthOutput(ownDevice(dns).outdir, e);
    const changed = ownDevice(dns, { dnsResolver: '/Common/second-resolver' });
    const second = await deploySynthOutput(changed.outdir, e, { previous: first.state });
    expect(second.destroyed).toEqual([expect.stringMatching(/^egress:bigip_command\.Bigip_ResolverRelease_Common_egress-resolver_/)]);
    expectHolds(e, ownDeviceState(changed.device()._compile()));
  });

  test('W1: the attachments and the resolver survive a reboot, because tmsh changes are saved', async () => {
    const e = await start();
    const { outdir, device } = ownDevice(dns);
    await deploySynthOutput(outdir, e);
    e.bigip.reboot();
    expectHolds(e, ownDeviceState(device()._compile()));
  });

  test('B1: a tmsh command that fails fails the deploy, naming the resource and how to run it again', async () => {
    const e = await start();
    const { outdir } = ownDevice(dns, { dnsResolver: '/Common/no-such-resolver' });
    const error = await deployError(deploySynthOutput(outdir, e));
    expect(error.message).toMatch(
      /^egress:bigip_command\.Bigip_Resolver_[0-9A-F]{8}: Resource postcondition failed: A tmsh command of egress\/Bigip failed on the BIG-IP .* then deploy again with this resource replaced: terraform -chdir=cdktf\.out\/stacks\/egress apply -replace=bigip_command\.Bigip_Resolver_[0-9A-F]{8}\.$/,
    );
    const resolver = Object.values(error.state.resources).find((r) => r.name.startsWith('Bigip_Resolver'));
    expect(resolver?.outputs.command_result).toEqual([
      '01020036:3: The requested DNS Resolver (/Common/no-such-resolver) was not found.\n',
      expect.stringMatching(/^Saving running configuration/),
    ]);
    // Nothing was declared after the failure.
    expect(e.bigip.declaration()).toBeUndefined();
  });

  test('W8: a foreign global policy is not taken over; the deploy says so, and goes through once the owner released it', async () => {
    const e = await start();
    // Another team's global policy, attached before this device is deployed.
    await e.bigipClient.declare(
      {
        class: 'ADC',
        schemaVersion: '3.50.0',
        id: 'netsec',
        netsec: {
          class: 'Tenant',
          fw: { class: 'Application', base: { class: 'Firewall_Policy', rules: [{ name: 'block', action: 'drop', protocol: 'any' }] } },
        },
      },
      { pollIntervalMs: 5 },
    );
    await e.bigipClient.runTmsh('modify security firewall global-rules enforced-policy /netsec/fw/base');
    const { outdir, device } = ownDevice(dns);

    const refused = await deployError(deploySynthOutput(outdir, e));
    expect(refused.message).toMatch(
      /^egress:bigip_command\.Bigip_Contexts_[0-9A-F]{8}: Resource precondition failed: The enforced policy of the global context on the BIG-IP is not one that egress\/Bigip sets \(see command_result\[0\] of bigip_command\.Bigip_ContextsRead_[0-9A-F]{8} in the Terraform state\): it belongs to another owner, and this deploy does not take it over\./,
    );
    const read = Object.values(refused.state.resources).find((r) => r.name.startsWith('Bigip_ContextsRead'));
    expect((read?.outputs.command_result as string[])[0]).toMatch(/enforced-policy \/netsec\/fw\/base/);
    expect(e.bigip.globalRules()).toEqual({ enforcedPolicy: '/netsec/fw/base' });

    // The other team releases its policy. The reading in the state is stale until it is replaced.
    await e.bigipClient.runTmsh('modify security firewall global-rules enforced-policy none');
    await expect(deploySynthOutput(outdir, e, { previous: refused.state })).rejects.toThrow(
      /Resource precondition failed: The enforced policy of the global context/,
    );
    const readAddress = `bigip_command.${(read as { name: string }).name}`;
    await deploySynthOutput(outdir, e, { previous: refused.state, replace: [readAddress] });
    expectHolds(e, ownDeviceState(device()._compile()));
  });

  test('W8: a route domain another owner enforces a policy on is refused before the declaration', async () => {
    const e = await start({ routeDomains: ['/Common/0', '/Common/2'] });
    await e.bigipClient.declare(
      {
        class: 'ADC',
        schemaVersion: '3.50.0',
        id: 'netsec',
        netsec: {
          class: 'Tenant',
          fw: { class: 'Application', rd: { class: 'Firewall_Policy', rules: [{ name: 'block', action: 'drop', protocol: 'any' }] } },
        },
      },
      { pollIntervalMs: 5 },
    );
    await e.bigipClient.runTmsh('modify net route-domain /Common/2 fw-enforced-policy /netsec/fw/rd');
    const { outdir } = ownDevice(dns, { routeDomain: 2 });
    const refused = await deployError(deploySynthOutput(outdir, e));
    expect(refused.message).toMatch(
      /^egress:bigip_as3\.Bigip_[0-9A-F]{8}: Resource precondition failed: The enforced policy of route domain \/Common\/2 on the BIG-IP is not one that egress\/Bigip sets/,
    );
    expect(e.bigip.routeDomain('/Common/2')).toEqual({ enforcedPolicy: '/netsec/fw/rd' });
    expect(e.bigip.partitionConfig('k8s_prod')).toBeUndefined();
  });

  test('B6: a route domain named otherwise than its id is attached by name; one with another id is refused', async () => {
    const e = await start({
      routeDomains: ['/Common/0', '/Common/rd_prod', '/Common/rd_test'],
      routeDomainIds: { '/Common/rd_prod': 2, '/Common/rd_test': 3 },
    });
    const named = ownDevice(dns, { routeDomain: 2, routeDomainName: '/Common/rd_prod' });
    await deploySynthOutput(named.outdir, e);
    const state = ownDeviceState(named.device()._compile());
    expect(state.routeDomains).toEqual([
      {
        id: 2,
        path: '/Common/rd_prod',
        enforcedPolicy: '/Common/Shared/k8s_prod_rd2_policy',
        stagedPolicy: '/Common/Shared/k8s_prod_rd2_policy_staged',
      },
    ]);
    expectHolds(e, state);

    const e2 = await start({ routeDomains: ['/Common/0', '/Common/rd_prod'], routeDomainIds: { '/Common/rd_prod': 3 } });
    const wrongId = await deployError(deploySynthOutput(ownDevice(dns, { routeDomain: 2, routeDomainName: '/Common/rd_prod' }).outdir, e2));
    expect(wrongId.message).toMatch(
      /Resource precondition failed: The id of route domain \/Common\/rd_prod on the BIG-IP is not one that egress\/Bigip sets/,
    );
  });

  test('B7: the bandwidth iRule attaches a policy the iRule runtime finds', async () => {
    const e = await start();
    const { outdir } = ownDevice((stack, device) => {
      new NamespaceEgressRule(stack, 'Backup', {
        device,
        namespace: 'ops',
        action: EgressAction.ALLOW,
        destinations: [D.cidr('192.0.2.0/24')],
        bandwidthLimit: { maxBandwidth: 200 },
      });
      new ServiceEgressRule(stack, 'Sync', {
        device,
        namespace: 'ops',
        service: 'sync',
        action: EgressAction.ALLOW,
        destinations: [D.cidr('192.0.2.0/24')],
        bandwidthLimit: { maxBandwidth: 2, unit: BandwidthUnit.GBPS },
      });
    });
    await deploySynthOutput(outdir, e);
    expect(e.bigip.bandwidthPolicyAttachedBy('/Common/Shared/k8s_prod_bwc_n_ops_backup_attach')).toBe(
      '/Common/Shared/k8s_prod_bwc_n_ops_backup',
    );
    expect(e.bigip.bandwidthPolicyAttachedBy('/Common/Shared/k8s_prod_bwc_s_ops_sync_attach')).toBe(
      '/Common/Shared/k8s_prod_bwc_s_ops_sync',
    );
  });
});

describe('a BIG-IP shared by several clusters', () => {
  /** A SharedBigip in its own stack, and clusters in another, each in its own route domain. */
  function sharedApp(withService: boolean): { outdir: string; state: () => DeviceState } {
    let bigip: SharedBigip | undefined;
    let devices: AfmDevice[] = [];
    const outdir = synth((app, crds) => {
      const sharedStack = new TerraformStack(app, 'bigip');
      bigip = new SharedBigip(sharedStack, 'Dc1', { ...CONNECTION, dnsResolver: '/Common/egress-resolver' });
      const stack = new TerraformStack(app, 'egress');
      new KubernetesProvider(stack, 'k8s', {});
      devices = (['east', 'west'] as const).map(
        (name, i) =>
          new AfmDevice(stack, name, {
            clusterName: name,
            sharedBigip: bigip!,
            crdStack: crds,
            routeDomain: i + 2,
            podCidrs: ['10.244.0.0/16'],
          }),
      );
      for (const device of devices) {
        dns(stack, device);
        if (withService)
          new ServiceEgressRule(stack, `${device.node.id}Api`, {
            device,
            namespace: 'web',
            service: 'api',
            action: EgressAction.ALLOW,
            destinations: [D.cidr('192.0.2.0/24')],
            ports: [P.HTTPS],
          });
      }
    });
    return {
      outdir,
      state: () =>
        expectedDeviceState(
          bigip!.name,
          devices.map((d) => d._compile()),
          bigip!.dnsResolver,
        ),
    };
  }

  test('the first deploy of each cluster succeeds, and every AS3 pass of it succeeds (no hidden failure)', async () => {
    const e = await start({ routeDomains: ['/Common/0', '/Common/2', '/Common/3'] });
    const { outdir, state } = sharedApp(true);
    const result = await deploySynthOutput(outdir, e);
    // The shared declaration (Common, its two passes), then each new tenant alone: AS3 adds no
    // stored Common to a tenant it has not stored yet, and the tenant needs none.
    expect(await as3Results(e, result)).toEqual(['Common 200', 'Common 200', 'k8s_east 200', 'k8s_west 200']);
    expectHolds(e, state());
  });

  test('B4: removing a service rule deploys cleanly: the shared declaration never deletes what a tenant still uses', async () => {
    const e = await start({ routeDomains: ['/Common/0', '/Common/2', '/Common/3'] });
    const first = await deploySynthOutput(sharedApp(true).outdir, e);
    const second = await deploySynthOutput(sharedApp(false).outdir, e, { previous: first.state });
    expect(await as3Results(e, second)).toEqual(['Common 200', 'Common 200']);
    expect(Object.keys(e.bigip.partitionConfig('Common')?.Shared as object).filter((k) => k.includes('src_svc'))).toEqual([]);
  });
});
