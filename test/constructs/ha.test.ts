/**
 * AfmDevice `highAvailability` (lib/constructs/ha.ts): what a BIG-IP pair adds to the synth
 * output (a provider and the same declaration per other unit, after everything on the leader;
 * the explicit-sync command; the controller's BIGIP_HA_PEER_URLS; the artifact for verify) and
 * the props it refuses.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  BigipCredentials,
  ClusterEgressRule,
  ConfigSyncMode,
  EgressAction,
  EgressController,
  EgressCrdStack,
  EgressDestination,
  SharedBigip,
} from '../../lib';
import { addHaPairDevice } from '../../examples/f5-capabilities/ha';
import { deviceStack, synthJson } from '../support/app';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';
import { issuesOf } from '../support/issues';
import { refusal, synthesized } from './synthesized';

const PAIR = { deviceGroup: 'failover-group', peerAddresses: ['bigip-b.example.net'] };

function pairStack(ha: Record<string, unknown> = PAIR, extra: Record<string, unknown> = {}) {
  const built = deviceStack({ highAvailability: ha as never, credentials: BigipCredentials.fromVariables(), ...extra });
  new ClusterEgressRule(built.stack, 'Dns', {
    device: built.device,
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.address('10.96.0.10')],
  });
  return built;
}

describe('a device that is a BIG-IP pair', () => {
  test('the peer gets its own provider with the leader credentials, and the same declaration after the leader', () => {
    const { stack } = synthesized(() => pairStack());
    const tf = synthJson(stack);
    expect(tf.provider.bigip).toEqual([
      expect.objectContaining({ alias: 'k8s_prod', address: 'bigip.example.net', username: '${var.k8s_prod_username}' }),
      {
        alias: 'k8s_prod_unit1',
        address: 'bigip-b.example.net',
        username: '${var.k8s_prod_username}',
        password: '${var.k8s_prod_password}',
        token_auth: true,
        trusted_cert_path: '/etc/ssl/bigip-ca.pem',
        validate_certs_disable: false,
        teem_disable: true,
      },
    ]);
    // No second pair of credential variables.
    expect(Object.keys(tf.variable).sort()).toEqual(['k8s_prod_password', 'k8s_prod_username']);
    const as3 = tf.resource.bigip_as3;
    const [leaderKey, peerKey] = Object.keys(as3);
    expect(as3[peerKey].provider).toBe('bigip.k8s_prod_unit1');
    expect(as3[peerKey].as3_json).toBe(as3[leaderKey].as3_json);
    expect(as3[peerKey].ignore_metadata).toBe(true);
    const contexts = Object.keys(tf.resource.bigip_command).find((k) => k.startsWith('Bigip_Contexts_'));
    expect(as3[peerKey].depends_on).toEqual([`bigip_as3.${leaderKey}`, `bigip_command.${contexts}`]);
    // AS3's syncToGroup is not used: the group's auto-sync carries the configuration.
    expect(as3[leaderKey].as3_json).not.toContain('syncToGroup');
    // The tmsh commands run on the leader only.
    for (const c of Object.values(tf.resource.bigip_command) as { provider: string }[]) expect(c.provider).toBe('bigip.k8s_prod');
  });

  test('explicit config sync: the leader runs config-sync after the declaration and attachments, again when they change', () => {
    const { stack } = synthesized(() => pairStack({ ...PAIR, configSync: ConfigSyncMode.EXPLICIT, peerPort: 8443 }));
    const tf = synthJson(stack);
    const sync = Object.entries(tf.resource.bigip_command as Record<string, any>).find(([k]) => k.startsWith('Bigip_HaConfigSync'));
    expect(sync).toBeDefined();
    const [syncKey, command] = sync as [string, any];
    expect(command.commands).toEqual(['run cm config-sync to-group /Common/failover-group']);
    expect(command.provider).toBe('bigip.k8s_prod');
    // cdktf writes the triggers as references (`${type.name}`), the dependencies as addresses.
    expect(command.lifecycle.replace_triggered_by).toEqual(command.depends_on.map((d: string) => `\${${d}}`));
    const peer = Object.values(tf.resource.bigip_as3 as Record<string, any>)[1];
    expect(peer.depends_on).toContain(`bigip_command.${syncKey}`);
    expect(tf.provider.bigip[1]).toMatchObject({ address: 'bigip-b.example.net', port: '8443' });
  });

  test('the controller is told the peers, and verify finds the pair in the artifact', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-ha-'));
    const app = new App({ outdir });
    const crds = new EgressCrdStack(app, 'crds');
    const stack = new TerraformStack(app, 'egress');
    new KubernetesProvider(stack, 'k8s', {});
    const device = addHaPairDevice(stack, crds);
    expect(device.peerManagementUrls).toEqual(['https://bigip-b.example.net']);
    app.synth();
    const tf = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks/egress/cdk.tf.json'), 'utf8'));
    const deployment = Object.values(tf.resource.kubernetes_manifest as Record<string, any>).find((r) => r.manifest.kind === 'Deployment');
    const env = deployment.manifest.spec.template.spec.containers[0].env;
    expect(env.slice(0, 2)).toEqual([
      { name: 'BIGIP_URL', value: 'https://bigip-a.example.net' },
      { name: 'BIGIP_HA_PEER_URLS', value: 'https://bigip-b.example.net' },
    ]);
    const artifact = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks/egress/cdktf-ces/k8s_edge_prod.json'), 'utf8'));
    expect(artifact.ha).toEqual({
      deviceGroup: '/Common/failover-group',
      configSync: 'auto',
      units: ['https://bigip-a.example.net', 'https://bigip-b.example.net'],
    });
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('a device without highAvailability has no peer, no HA artifact and no BIGIP_HA_PEER_URLS', () => {
    const { stack, device } = synthesized(() => deviceStack());
    expect(device.peerManagementUrls).toEqual([]);
    expect(JSON.stringify(synthJson(stack))).not.toMatch(/unit1|BIGIP_HA_PEER_URLS/);
  });
});

describeWithAs3Schema('the example pair', () => {
  test('its declaration is valid AS3', () => {
    const app = Testing.app();
    const crds = new EgressCrdStack(app, 'crds');
    const stack = new TerraformStack(app, 'egress');
    new KubernetesProvider(stack, 'k8s', {});
    addHaPairDevice(stack, crds);
    const tf = synthJson(stack);
    for (const r of Object.values(tf.resource.bigip_as3) as { as3_json: string }[]) {
      const result = (as3Validator() as NonNullable<ReturnType<typeof as3Validator>>).validate(JSON.parse(r.as3_json));
      expect(result).toMatchObject({ valid: true });
    }
  });
});

describe('highAvailability props that are refused', () => {
  const issues = (ha: unknown, extra: Record<string, unknown> = {}) =>
    issuesOf(() => deviceStack({ highAvailability: ha as never, ...extra }).device).map((i) => ({
      field: i.field,
      value: i.value,
      message: i.message,
    }));

  test.each([
    [{ ...PAIR, deviceGroup: '/Other/dg' }, 'highAvailability.deviceGroup', /device groups live in \/Common/],
    [{ ...PAIR, peerAddresses: [] }, 'highAvailability.peerAddresses', /at least one other unit/],
    [{ ...PAIR, peerAddresses: ['https://bigip-b'] }, 'highAvailability.peerAddresses[0]', /host name or IP address without scheme/],
    [{ ...PAIR, peerAddresses: ['bigip.example.net'] }, 'highAvailability.peerAddresses[0]', /the device's own address/],
    [{ ...PAIR, peerAddresses: ['BIGIP.example.net'], peerPort: 443 }, 'highAvailability.peerAddresses[0]', /the device's own address/],
    [{ ...PAIR, peerAddresses: ['b.example.net', 'B.example.net'] }, 'highAvailability.peerAddresses[1]', /listed twice/],
    [{ ...PAIR, configSync: 'manual' }, 'highAvailability.configSync', /ConfigSyncMode.AUTO or ConfigSyncMode.EXPLICIT/],
    [{ ...PAIR, peerPort: 0 }, 'highAvailability.peerPort', /at least 1|from 1 to 65535/],
    [{ peerAddresses: ['b'] }, 'highAvailability.deviceGroup', /is required: the sync-failover device group/],
    [true, 'highAvailability', /expected BigipHaOptions/],
  ])('%j', (ha, field, message) => {
    const found = issues(ha);
    expect(found).toEqual([expect.objectContaining({ field, message: expect.stringMatching(message) })]);
  });

  test('an unknown key gets a hint', () => {
    const found = issues({ ...PAIR, peers: ['b'] });
    expect(found).toEqual([expect.objectContaining({ field: 'highAvailability.peers' })]);
  });

  test('every problem at once', () => {
    const found = issues({ deviceGroup: '', peerAddresses: ['bigip.example.net', 'x y'], configSync: 'manual' });
    expect(found.map((i) => i.field).sort()).toEqual([
      'highAvailability.configSync',
      'highAvailability.deviceGroup',
      'highAvailability.peerAddresses[1]',
    ]);
  });

  test('a device on a SharedBigip cannot be a pair of its own', () => {
    const app = Testing.app();
    const shared = new SharedBigip(new TerraformStack(app, 'shared'), 'Shared', {
      address: 'bigip.example.net',
      tlsCaBundlePath: '/etc/ca.pem',
    });
    const found = issuesOf(
      () =>
        deviceStack(
          { sharedBigip: shared, address: undefined, tlsCaBundlePath: undefined, dnsResolver: undefined, highAvailability: PAIR },
          app,
        ).device,
    );
    expect(found).toEqual([expect.objectContaining({ field: 'highAvailability', message: expect.stringMatching(/SharedBigip/) })]);
  });

  test('EgressController: bigipPeerUrls must match the pair, and are required with bigipUrl', () => {
    const controller = (props: Record<string, unknown>, ha?: unknown) => {
      const { stack, device } = refusal(() => pairStack((ha ?? PAIR) as Record<string, unknown>));
      return issuesOf(
        () => new EgressController(stack, 'Controller', { device, credentialsSecret: 'login', caBundleConfigMap: 'ca', ...props }),
      );
    };
    expect(controller({ bigipUrl: 'https://10.0.0.1' })).toEqual([
      expect.objectContaining({ field: 'bigipPeerUrls', message: expect.stringMatching(/give the other units' URLs/) }),
    ]);
    expect(controller({ bigipPeerUrls: ['https://a', 'https://b'] })).toEqual([
      expect.objectContaining({ field: 'bigipPeerUrls', message: expect.stringMatching(/has 1 other unit/) }),
    ]);
    expect(controller({ bigipPeerUrls: ['http://b'] })).toEqual([
      expect.objectContaining({ field: 'bigipPeerUrls[0]', message: expect.stringMatching(/must use https/) }),
    ]);
    const single = deviceStack();
    expect(
      issuesOf(
        () =>
          new EgressController(single.stack, 'Controller', {
            device: single.device,
            credentialsSecret: 'login',
            caBundleConfigMap: 'ca',
            bigipPeerUrls: ['https://b'],
          }),
      ),
    ).toEqual([expect.objectContaining({ field: 'bigipPeerUrls', message: expect.stringMatching(/one BIG-IP/) })]);
  });
});
