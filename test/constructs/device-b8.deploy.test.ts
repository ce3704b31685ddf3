/**
 * Audit item B8 deployed as Terraform would deploy the synth output to the faithful BIG-IP
 * emulator: clusters that share a BIG-IP and a route domain each declare the wildcard virtual
 * address of that route domain. With `shareAddresses` AS3 keeps it once in /Common and counts
 * the tenants using it, so every cluster deploys and the address stays while one still uses it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination as D,
  EgressPort as P,
  SharedBigip,
} from '../../lib';
import { Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { AS3_SCHEMA_PATH } from '../support/as3-schema';

const outdirs: string[] = [];
let emulators: Emulators | undefined;

afterEach(async () => {
  await emulators?.stop();
  emulators = undefined;
  for (const d of outdirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function start(): Promise<Emulators> {
  emulators = await startEmulators({
    bigip: {
      as3SchemaPath: fs.existsSync(AS3_SCHEMA_PATH) ? AS3_SCHEMA_PATH : undefined,
      dnsResolvers: ['/Common/egress-resolver'],
      routeDomains: ['/Common/0', '/Common/2'],
      as3OperationMs: 1,
    },
  });
  return emulators;
}

const POD_CIDRS: Readonly<Record<string, string>> = { east: '10.244.0.0/16', west: '10.245.0.0/16' };

/** A SharedBigip and the named clusters, all in route domain 2, each allowing DNS and one FQDN. */
function synth(clusters: readonly string[]): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-b8-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  const crds = new EgressCrdStack(app, 'crds');
  const bigip = new SharedBigip(new TerraformStack(app, 'bigip'), 'Dc1', {
    address: 'bigip.example.net',
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    dnsResolver: '/Common/egress-resolver',
  });
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  for (const name of clusters) {
    const device = new AfmDevice(stack, name, {
      clusterName: name,
      sharedBigip: bigip,
      crdStack: crds,
      routeDomain: 2,
      podCidrs: [POD_CIDRS[name]],
    });
    new ClusterEgressRule(stack, `${name}Dns`, {
      device,
      action: EgressAction.ALLOW_FINAL,
      destinations: [D.address('10.96.0.10')],
      ports: [P.DNS_UDP],
    });
    // An FQDN destination: its address list needs the global FQDN resolver before AS3 creates it.
    new ClusterEgressRule(stack, `${name}Api`, {
      device,
      action: EgressAction.ALLOW,
      destinations: [D.fqdn('api.example.com')],
      ports: [P.HTTPS],
    });
  }
  app.synth();
  return outdir;
}

/** Every per-tenant result of the deploy's AS3 tasks. */
async function as3Results(e: Emulators, taskIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of taskIds)
    for (const r of (await e.bigipClient.getAs3Task(id)).results)
      out.push(`${r.tenant} ${r.code}${r.code === 200 ? '' : ` ${r.response ?? r.message}`}`);
  return out;
}

describe('B8: clusters in one route domain on a SharedBigip', () => {
  test('both deploy, sharing the wildcard addresses of the route domain in /Common', async () => {
    const e = await start();
    const result = await deploySynthOutput(synth(['east', 'west']), e);
    expect(await as3Results(e, result.as3TaskIds)).toEqual(['Common 200', 'Common 200', 'k8s_east 200', 'k8s_west 200']);
    // IPv4 pod CIDRs, so only the IPv4 wildcard.
    expect(e.bigip.virtualAddressUsers()).toEqual({ '/Common/0.0.0.0%2': ['k8s_east', 'k8s_west'] });
    // The FQDN lists deployed because the resolver was set first.
    expect(e.bigip.globalFqdnResolver()).toBe('/Common/egress-resolver');
  });

  test("deleting one cluster's tenant keeps the address for the other", async () => {
    const e = await start();
    await deploySynthOutput(synth(['east', 'west']), e);
    // What destroying a cluster's bigip_as3 does: AS3 deletes its tenant (the deploy helper
    // does not model removing a declaration from the output).
    await e.bigipClient.declare({ class: 'ADC', schemaVersion: '3.50.0', k8s_west: { class: 'Tenant' } }, { tenants: ['k8s_west'] });
    expect(e.bigip.partitionConfig('k8s_west')).toBeUndefined();
    expect(e.bigip.virtualAddressUsers()).toEqual({ '/Common/0.0.0.0%2': ['k8s_east'] });
  });
});
