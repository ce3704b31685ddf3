/**
 * The Terraform conditions the constructs synthesize mean what `deploySynthOutput` evaluates:
 * each is evaluated by the real `terraform console` on command outputs of every kind (ours,
 * another owner's, unset, tmsh errors) and must give the same answer. Skipped, with a message,
 * where no `terraform` binary is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeployedResource, evaluateCondition } from '../emulators/deploy';
import { deviceStack, synthJson } from '../support/app';

const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
const describeWithTerraform: jest.Describe = terraform
  ? describe
  : (((name: string, fn: () => void) => {
      console.warn(`Skipping "${name}": no terraform binary on PATH.`);
      describe.skip(name, fn);
    }) as unknown as jest.Describe);

/**
 * Evaluates HCL expressions with `terraform console` in an empty folder (no provider needed).
 * Reading from a pipe, the console prints only its last result, so all go into one JSON list.
 */
function terraformConsole(expressions: readonly string[]): unknown[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-tf-console-'));
  try {
    const out = execFileSync('terraform', ['console'], {
      cwd: dir,
      input: `jsonencode([${expressions.join(', ')}])\n`,
      encoding: 'utf8',
      env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' },
    });
    return JSON.parse(JSON.parse(out.trim()) as string) as unknown[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const hclList = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;

describeWithTerraform('synthesized conditions, evaluated by Terraform', () => {
  test('ownership and tmsh-error conditions agree with the replay on every kind of output', () => {
    const tf = synthJson(deviceStack({ routeDomain: 2 }).stack);
    const resources: [string, any][] = [
      ...Object.entries(tf.resource.bigip_command ?? {}).map(([n, r]) => [`bigip_command.${n}`, r] as [string, any]),
      ...Object.entries(tf.resource.bigip_as3).map(([n, r]) => [`bigip_as3.${n}`, r] as [string, any]),
    ];
    const read = resources.find(([a]) => a.includes('ContextsRead'))?.[0] as string;
    const outputs: Record<string, string[]> = {
      ours: [
        'security firewall global-rules {\n    enforced-policy /Common/Shared/k8s_prod_global_policy\n    staged-policy Shared/k8s_prod_global_policy_staged\n}\n',
        'net route-domain /Common/2 {\n    id 2\n    fw-enforced-policy /Common/Shared/k8s_prod_rd2_policy\n    fw-staged-policy none\n}\n',
        'security firewall global-fqdn-policy {\n    dns-resolver egress-resolver\n}\n',
      ],
      unset: [
        'security firewall global-rules { }\n',
        'net route-domain /Common/2 {\n    id 2\n}\n',
        'security firewall global-fqdn-policy { }\n',
      ],
      foreign: [
        'security firewall global-rules {\n    enforced-policy /netsec/fw/base\n    staged-policy /netsec/fw/trial\n}\n',
        'net route-domain /Common/2 {\n    id 9\n    fw-enforced-policy /netsec/fw/rd\n    fw-staged-policy /netsec/fw/rd_trial\n}\n',
        'security firewall global-fqdn-policy {\n    dns-resolver /Common/corp\n}\n',
      ],
      error: [
        'security firewall global-rules { }\n',
        '01020036:3: The requested route domain (/Common/2) was not found.\n',
        'Syntax Error: "x" unknown property\n',
      ],
    };
    const cases: { expression: string; replay: boolean; what: string }[] = [];
    for (const [address, resource] of resources) {
      for (const kind of ['precondition', 'postcondition'] as const) {
        for (const c of resource.lifecycle?.[kind] ?? []) {
          for (const [name, results] of Object.entries(outputs)) {
            const self: DeployedResource = {
              stack: 'egress',
              type: address.split('.')[0],
              name: address.split('.')[1],
              config: {},
              outputs: { command_result: results },
            };
            const replay = evaluateCondition(c.condition, self, (a) => (a === read ? self : undefined));
            const hcl = (c.condition as string)
              .slice(2, -1)
              .replace(/\bself\.command_result\b/g, hclList(results))
              .split(`${read}.command_result`)
              .join(hclList(results));
            cases.push({ expression: hcl, replay, what: `${address} ${kind} with ${name} output` });
          }
        }
      }
    }
    // Errors of the reading, the resolver and the attachments; ownership of the resolver (1), the
    // route domain before the declaration (id, enforced policy) and the attachments (3).
    expect(cases.length).toBe(9 * 4);
    const answers = terraformConsole(cases.map((c) => c.expression));
    expect(cases.map((c, i) => `${c.what}: ${answers[i]}`)).toEqual(cases.map((c) => `${c.what}: ${c.replay}`));
    // And the answers are the right ones: ours and unset pass, another owner's and errors do not.
    for (const c of cases.filter((x) => x.what.endsWith('ours output') || x.what.endsWith('unset output')))
      expect([c.what, c.replay]).toEqual([c.what, true]);
    for (const c of cases.filter((x) => x.what.includes('precondition with foreign'))) expect([c.what, c.replay]).toEqual([c.what, false]);
    for (const c of cases.filter((x) => x.what.includes('postcondition with error'))) expect([c.what, c.replay]).toEqual([c.what, false]);
  });
});
