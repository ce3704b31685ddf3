/**
 * `deploySynthOutput` applies `bigip_as3` and `bigip_command` with the checks of F5's provider
 * (terraform-provider-bigip v1.28), so tests see what a real `terraform apply` reports,
 * including the failures it does not notice: a failing tmsh command (B1) and AS3 results past
 * the first `tenant count` entries, such as AS3's second Common pass (B3).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Emulators, deploySynthOutput, startEmulators } from '../../emulators/deploy';
import { loginRaw, raw } from './support';

type Json = Record<string, any>;

const outdirs: string[] = [];

/** A synth output with one stack holding the given resources. */
function synthOutput(resources: Json): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-deploy-test-'));
  outdirs.push(outdir);
  fs.mkdirSync(path.join(outdir, 'stacks', 'bigip'), { recursive: true });
  fs.writeFileSync(
    path.join(outdir, 'manifest.json'),
    JSON.stringify({ stacks: { bigip: { synthesizedStackPath: 'stacks/bigip/cdk.tf.json', dependencies: [] } } }),
  );
  fs.writeFileSync(path.join(outdir, 'stacks', 'bigip', 'cdk.tf.json'), JSON.stringify({ resource: resources }));
  return outdir;
}

const as3 = (tenants: Json) => ({
  as3_json: JSON.stringify({
    class: 'AS3',
    action: 'deploy',
    persist: true,
    declaration: { class: 'ADC', schemaVersion: '3.50.0', id: 'deploy-test', ...tenants },
  }),
});

const sharedLists = (names: string[]): Json => {
  const shared: Json = { class: 'Application', template: 'shared' };
  for (const n of names) shared[n] = { class: 'Firewall_Address_List', addresses: [{ addressDiscovery: 'event' }] };
  shared.policy = { class: 'Firewall_Policy', rules: [{ name: 'deny', action: 'drop', protocol: 'any' }] };
  return { class: 'Tenant', Shared: shared };
};

const tenantUsing = (list: string): Json => ({
  class: 'Tenant',
  egress: {
    class: 'Application',
    rules: {
      class: 'Firewall_Rule_List',
      rules: [{ name: 'r', action: 'accept', protocol: 'tcp', source: { addressLists: [{ use: `/Common/Shared/${list}` }] } }],
    },
  },
});

describe('deploySynthOutput checks BIG-IP resources as the provider does', () => {
  let emulators: Emulators;
  beforeEach(async () => {
    emulators = await startEmulators();
  });
  afterEach(async () => {
    await emulators.stop();
    for (const d of outdirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  test('B1: a tmsh command that fails still gives a successful apply; the error is only in the command output', async () => {
    await deploySynthOutput(synthOutput({ bigip_as3: { shared: as3({ Common: sharedLists(['src']) }) } }), emulators);
    const result = await deploySynthOutput(
      synthOutput({
        bigip_command: {
          contexts: {
            commands: [
              'modify security firewall global-rules enforced-policy /Common/Shared/missing',
              'modify security firewall global-rules staged-policy /Common/Shared/policy',
            ],
          },
          release: { when: 'destroy', commands: ['modify security firewall global-rules enforced-policy none'] },
        },
      }),
      emulators,
    );
    expect(result.commands).toBe(2);
    expect(result.commandResults).toEqual(['01020036:3: The requested Firewall Policy (/Common/Shared/missing) was not found.\n', '']);
    // Nothing was attached by the failed command; the next one ran.
    expect(emulators.bigip.globalRules()).toEqual({ stagedPolicy: '/Common/Shared/policy' });
  });

  test("B3: a failure in AS3's second Common pass gives a successful apply (only results[0 .. tenant count - 1] are read)", async () => {
    await deploySynthOutput(synthOutput({ bigip_as3: { all: as3({ Common: sharedLists(['old']), t1: tenantUsing('old') }) } }), emulators);
    // The shared declaration drops `old`, which t1 still uses: mcpd refuses in the second pass.
    const next = as3({ Common: sharedLists(['new']) });
    const result = await deploySynthOutput(synthOutput({ bigip_as3: { shared: next } }), emulators);
    const task = await emulators.bigipClient.getAs3Task(result.as3TaskIds[0]);
    expect(task.results.map((r) => [r.tenant, r.code])).toEqual([
      ['Common', 200],
      ['Common', 422],
    ]);
    expect(task.results[1].response).toMatch(
      /\(\/Common\/Shared\/old\) cannot be deleted because it is in use by rule list \(\/t1\/egress\/rules\)/,
    );
    expect(emulators.bigip.eventListTaskIds()).toEqual(['~Common~Shared~new', '~Common~Shared~old']);
    // The controller's client checks every result and reports it.
    await expect(emulators.bigipClient.declare(JSON.parse(next.as3_json), { pollIntervalMs: 5 })).rejects.toEqual(
      expect.objectContaining({ reason: 'InvalidDeclaration', message: expect.stringMatching(/tenant Common: 422 declaration failed/) }),
    );
  });

  test('the declaration is posted to /declare/<its tenants>, so a new tenant pointing into /Common/Shared gets no stored Common and fails', async () => {
    await deploySynthOutput(synthOutput({ bigip_as3: { shared: as3({ Common: sharedLists(['src']) }) } }), emulators);
    emulators.bigip.resetCounters();
    await expect(deploySynthOutput(synthOutput({ bigip_as3: { tenant: as3({ t1: tenantUsing('src') }) } }), emulators)).rejects.toThrow(
      /bigip_as3: posting as3 config failed for tenants:\(t1\) with error: Error: \[\s*"\/t1\/egress\/rules: pointer \\"\/Common\/Shared\/src\\" contains path to non-existent object Common"/,
    );
    expect(emulators.bigip.requestCount('POST /mgmt/shared/appsvcs/declare/{tenants}')).toBe(1);
    expect(emulators.bigip.requestCount('POST /mgmt/shared/appsvcs/declare')).toBe(0);
  });

  test('a tenant that fails within the checked results fails the apply', async () => {
    const failing = {
      class: 'Tenant',
      defaultRouteDomain: 9,
      a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } },
    };
    await expect(deploySynthOutput(synthOutput({ bigip_as3: { t: as3({ t9: failing }) } }), emulators)).rejects.toThrow(
      /Tenant Creation failed with Response: .*route domain \(id 9\) was not found/s,
    );
  });

  test('when AS3 is busy the declaration is posted again once the running operation ends', async () => {
    const token = await loginRaw(emulators.bigip);
    await raw(emulators.bigip, 'POST', '/mgmt/shared/appsvcs/declare?async=true', {
      token,
      body: {
        class: 'ADC',
        schemaVersion: '3.50.0',
        id: 'other',
        t0: { class: 'Tenant', a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } } },
      },
    });
    const result = await deploySynthOutput(synthOutput({ bigip_as3: { shared: as3({ Common: sharedLists(['src']) }) } }), emulators);
    expect(result.declarations).toBe(1);
    expect(emulators.bigip.partitionConfig('Common')).toBeDefined();
    expect(emulators.bigip.partitionConfig('t0')).toBeDefined();
  });
});
