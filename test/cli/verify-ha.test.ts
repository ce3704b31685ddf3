/**
 * `cdktf-ces verify` of a device that is a BIG-IP pair, as a user runs it: both units from the
 * synth output's providers, the active one checked in full, before and after a failover;
 * `--bigip-url` refused for a pair.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, ClusterEgressRule, EgressAction, EgressCrdStack, EgressDestination } from '../../lib';
import { BigipClient } from '../../lib/clients/bigip';
import { BigipEmulator } from '../emulators/bigip/emulator';
import { BigipPair } from '../emulators/bigip/ha';
import { Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { cli, synthInto } from './support';

jest.setTimeout(60_000);

const ENV = ['BIGIP_USER', 'BIGIP_PASSWORD', 'BIGIP_CA_FILE'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
afterAll(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** A pair on two ports of 127.0.0.1: the leader at `ports[0]`, the peer at `ports[1]`. */
function buildPair(app: App, ports: readonly number[]): void {
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'edge');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Device', {
    clusterName: 'edge',
    address: '127.0.0.1',
    port: ports[0],
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    crdStack: crds,
    highAvailability: { deviceGroup: 'failover-group', peerAddresses: ['127.0.0.1'], peerPort: ports[1] },
  });
  new ClusterEgressRule(stack, 'Dns', {
    device,
    name: 'dns',
    action: EgressAction.ALLOW_FINAL,
    destinations: [EgressDestination.address('10.96.0.10')],
  });
}

describe('verify of a BIG-IP pair', () => {
  let emulators: Emulators;
  let pair: BigipPair;
  let clients: BigipClient[];
  let dir: string;
  beforeAll(async () => {
    emulators = await startEmulators();
    pair = await BigipPair.start({ syncDelayMs: 20 });
    clients = pair.units.map(
      (u) => new BigipClient({ url: u.url, username: 'admin', password: 'admin', caBundle: BigipEmulator.caCertificate() }),
    );
    dir = synthInto((app) =>
      buildPair(
        app,
        pair.units.map((u) => u.port),
      ),
    );
    await deploySynthOutput(path.join(dir, 'cdktf.out'), emulators, {
      bigipUnits: {
        'bigip.k8s_edge': { bigip: pair.units[0], client: clients[0] },
        'bigip.k8s_edge_unit1': { bigip: pair.units[1], client: clients[1] },
      },
    });
    for (let i = 0; i < 500 && pair.syncStatus !== 'In Sync'; i++) await new Promise((r) => setTimeout(r, 10));
    process.env.BIGIP_USER = 'admin';
    process.env.BIGIP_PASSWORD = 'admin';
    process.env.BIGIP_CA_FILE = emulators.caFile;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await pair.stop();
    await emulators.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('both units are read; the active one is checked in full: exit 0, before and after a failover', async () => {
    const before = await cli(dir, 'verify');
    expect(before.code).toBe(0);
    expect(before.stdout).toContain(`OK    edge/k8s_edge on ${pair.units[0].url}:`);
    pair.failOver(1);
    const after = await cli(dir, 'verify');
    expect(after.code).toBe(0);
    expect(after.stdout).toContain(`OK    edge/k8s_edge on ${pair.units[1].url}:`);
    pair.failOver(0);
  });

  test('split brain: exit 1 with the pair problem', async () => {
    pair.setFailoverStatus(1, 'ACTIVE');
    const r = await cli(dir, 'verify');
    pair.setFailoverStatus(1, 'STANDBY');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failover status.*exactly one ACTIVE unit/);
  });

  test('--bigip-url is refused for a pair: exit 2', async () => {
    const r = await cli(dir, 'verify', '--bigip-url', pair.units[1].url);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--bigip-url with a device that is a BIG-IP pair/);
  });
});
