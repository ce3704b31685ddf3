/**
 * One way to name a device: tenant, cluster name, <stack>/<tenant>, construct path, and the
 * printed form `<stack>/<tenant> (<path>)` select it in every command and in the matchers; a
 * name several devices answer to lists them in the printed form.
 */
import { App, TerraformStack, Testing } from 'cdktf';
import * as fc from 'fast-check';
import { buildPayments } from '../../examples/payments/main';
import { ClusterEgressPlatform, buildPlatform } from '../../examples/platform-module/main';
import { BigipCredentials, SharedBigip } from '../../lib';
import { DeviceNames, deviceLabel, deviceName, selectDevice, selectDevices } from '../../lib/analysis/device-name';
import { UsageError } from '../../lib/files/usage-error';
import { explainEgress, setupEgressMatchers } from '../../lib/testing/matchers';
import { cli, synthInto } from './support';

/** Two clusters named "prod" on two BIG-IPs: same cluster name, same tenant, two stacks. */
function buildTwoProds(app: App): void {
  for (const [id, dc] of [
    ['east', 'dc1'],
    ['west', 'dc2'],
  ]) {
    const shared = new TerraformStack(app, `bigip-${dc}`);
    const bigip = new SharedBigip(shared, 'Bigip', {
      name: `${dc}_egress`,
      address: `bigip-${dc}.example.net`,
      credentials: BigipCredentials.fromEnvironment(),
      tlsCaBundlePath: '/etc/ssl/certs/bigip-mgmt-ca.pem',
      dnsResolver: '/Common/egress-resolver',
    });
    new ClusterEgressPlatform(app, id, {
      clusterName: 'prod',
      kubeContext: `${id}-admin`,
      bigip,
      routeDomain: 2,
      podCidrs: ['10.244.0.0/16'],
      clusterDns: '10.96.0.10',
    });
  }
}

setupEgressMatchers();

let platform: string;
let twoProds: string;
let payments: string;

beforeAll(() => {
  platform = synthInto(buildPlatform);
  twoProds = synthInto(buildTwoProds);
  payments = synthInto(buildPayments);
});

const EXPLAIN = ['explain', '--from', 'analytics/etl', '--to', '203.0.113.9:443'];

describe('--device', () => {
  test.each([['k8s_west'], ['west'], ['west-egress/k8s_west'], ['west-egress/Bigip'], ['west-egress/k8s_west (west-egress/Bigip)']])(
    '%s names the west device',
    async (name) => {
      const r = await cli(platform, ...EXPLAIN, '--device', name);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^device: +west-egress\/k8s_west \(west-egress\/Bigip\)$/m);
    },
  );

  test('what explain prints as the device is accepted back', async () => {
    const first = await cli(platform, ...EXPLAIN, '--device', 'east');
    const printed = /^device: +(.+)$/m.exec(first.stdout)?.[1];
    expect(printed).toBe('east-egress/k8s_east (east-egress/Bigip)');
    const again = await cli(platform, ...EXPLAIN, '--device', printed as string);
    expect(again.stdout).toBe(first.stdout.replace(/^at: .*$/m, (at) => again.stdout.match(/^at: .*$/m)?.[0] ?? at));
  });

  test.each([['prod'], ['k8s_prod']])('%s names two devices: the error lists both as printed', async (name) => {
    const r = await cli(twoProds, ...EXPLAIN, '--device', name);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `cdktf-ces explain: --device names several devices (got "${name}"); name one by <stack>/<tenant> or construct path: east-egress/k8s_prod (east-egress/Bigip), west-egress/k8s_prod (west-egress/Bigip)\n`,
    );
    // Each candidate as listed selects its device.
    for (const listed of ['east-egress/k8s_prod (east-egress/Bigip)', 'west-egress/k8s_prod']) {
      expect((await cli(twoProds, ...EXPLAIN, '--device', listed)).code).toBe(0);
    }
  });

  test('all where a command acts on one device is bad input', async () => {
    const r = await cli(platform, ...EXPLAIN, '--device', 'all');
    expect(r.stderr).toBe(
      'cdktf-ces explain: --device all: this acts on one device (got "all"); name one of: east-egress/k8s_east (east-egress/Bigip), west-egress/k8s_west (west-egress/Bigip)\n',
    );
  });

  test('diff --device all compares every device both outputs have, as without --device', async () => {
    const diff = ['diff', `${payments}/cdktf.out`, `${payments}/cdktf.out`, '--at', '2026-03-02T10:00:00Z'];
    const all = await cli(process.cwd(), ...diff, '--device', 'all');
    const plain = await cli(process.cwd(), ...diff);
    expect(all.stderr).toBe('');
    expect(all).toEqual(plain);
    const byCluster = await cli(process.cwd(), ...diff, '--device', 'payments-prod');
    expect(byCluster).toEqual(plain);
  });
});

describe('the matchers name devices as the tools do', () => {
  const app = Testing.app();
  buildPlatform(app);

  test.each([['k8s_west'], ['west'], ['west-egress/k8s_west'], ['west-egress/Bigip'], ['west-egress/k8s_west (west-egress/Bigip)']])(
    'device %s',
    (device) => {
      expect(app).toDenyEgress('analytics/etl', '203.0.113.9:443', { device });
    },
  );

  test('an unknown name lists the devices in the printed form', () => {
    expect(() => explainEgress(app, 'analytics/etl', '203.0.113.9:443', { device: 'north' })).toThrow(
      'options.device names no device of the app (got "north"); use one of: east-egress/k8s_east (east-egress/Bigip), west-egress/k8s_west (west-egress/Bigip) (a tenant, a cluster name, <stack>/<tenant> or a construct path)',
    );
  });
});

describe('selectDevices', () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
  const devicesArb = fc
    .uniqueArray(fc.record({ stack: label, tenant: label, cluster: label, id: label }), {
      minLength: 1,
      maxLength: 6,
      selector: (d) => `${d.stack}/${d.tenant}`,
    })
    .map((ds) => ds.map((d, i): DeviceNames => ({ stack: d.stack, tenant: d.tenant, cluster: d.cluster, path: `${d.stack}/${d.id}${i}` })));

  test('every name of a device selects it, or lists every device that answers to it', () => {
    fc.assert(
      fc.property(devicesArb, fc.nat(), (devices, pick) => {
        const d = devices[pick % devices.length];
        for (const name of [d.tenant, d.cluster, deviceName(d), d.path, deviceLabel(d)]) {
          const answering = devices.filter((o) => [o.tenant, o.cluster, deviceName(o), o.path, deviceLabel(o)].includes(name));
          if (answering.length === 1) {
            expect(selectDevice(devices, name, (x) => x)).toBe(d);
          } else {
            expect(answering).toContain(d);
            let error: unknown;
            try {
              selectDevice(devices, name, (x) => x);
            } catch (e) {
              error = e;
            }
            expect(error).toBeInstanceOf(UsageError);
            expect((error as UsageError).fix).toBe(
              `name one by <stack>/<tenant> or construct path: ${answering.map(deviceLabel).join(', ')}`,
            );
          }
        }
        // The printed forms are unique: they always select exactly their device.
        expect(selectDevice(devices, deviceLabel(d), (x) => x)).toBe(d);
      }),
    );
  });

  test('all, or no name, selects every device where allowed', () => {
    fc.assert(
      fc.property(devicesArb, (devices) => {
        expect(selectDevices(devices, 'all', (x) => x, { allowAll: true })).toEqual(devices);
        expect(selectDevices(devices, undefined, (x) => x, { allowAll: true })).toEqual(devices);
      }),
    );
  });
});
