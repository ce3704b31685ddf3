/**
 * Deploy-order proof: versions of one app deployed to the BIG-IP emulator in Terraform's order
 * (`deploySynthOutput`, with the provider's blind spots), the controller's list pushes after
 * each, then `verify`. After every step verify must pass and the AFM evaluator over what the
 * device holds (stored declaration, attachments, list nodes) must decide every flow as the
 * intent evaluator decides it over the synthesized policy.
 *
 * Each deploy starts from the Terraform state the one before left (destroy-time releases of
 * what is gone run first). The steps that AS3 and tmsh once left half done are named by their
 * field-audit item: audit switched off (B2), a list removed from a shared declaration that a
 * tenant still used (B4), unsaved tmsh changes (W1), the first deploy on a SharedBigip.
 */
import { DeployState, Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { DeviceVerification, VerifyProblem, bigipDeviceReader, expectedDevices, observeDevice, observedFirewall } from '../../lib/verify';
import {
  AppVersion,
  RESOLVER,
  ROUTE_DOMAINS,
  destroyBigip,
  disagreements,
  errorsOf,
  pushLists,
  removeSynthDirs,
  synth,
  verifyAll,
} from './support';

jest.setTimeout(60_000);

interface Step {
  readonly dir: string;
  readonly results: DeviceVerification[];
  /** The Terraform state of the BIG-IP resources after the deploy. */
  readonly state?: DeployState;
}

async function start(): Promise<Emulators> {
  const emulators = await startEmulators({ bigip: { routeDomains: ROUTE_DOMAINS, dnsResolvers: [RESOLVER] } });
  for (const name of ['web', 'payments', 'api']) emulators.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return emulators;
}

/**
 * Synthesizes and deploys a version over the state of the step before, pushes the lists as the
 * controller would, verifies.
 */
async function deploy(emulators: Emulators, v: AppVersion, before?: Step): Promise<Step> {
  const dir = synth(v);
  const { state } = await deploySynthOutput(`${dir}/cdktf.out`, emulators, { previous: before?.state });
  await pushLists(dir, emulators);
  return { dir, results: await verifyAll(dir, emulators), state };
}

/** Flows decided differently by the device's state and by the intent, over every device. */
function divergences(step: Step): string[] {
  const devices = expectedDevices('cdktf.out', step.dir);
  return step.results.flatMap((r, i) => disagreements(r, devices[i]));
}

const problemsOf = (step: Step, check: VerifyProblem['check']) => step.results.flatMap((r) => r.problems.filter((p) => p.check === check));

/** Errors as `check where`, without task ids and times. */
const errorShapes = (step: Step) =>
  [...new Set(errorsOf(step.results).map((p) => `${p.check} ${p.where.replace(/AS3 task \S+ of \S+, /, 'AS3 task, ')}`))].sort();

describe('cluster rules over the pod CIDRs and over lists beside each other', () => {
  let emulators: Emulators;
  beforeAll(async () => {
    emulators = await start();
  });
  afterAll(async () => {
    await emulators.stop();
    removeSynthDirs();
  });

  test('cluster ALLOW rules keep lists the controller fills; DENY and ALLOW_FINAL over every pod match the pod CIDRs; the device decides as the policy does', async () => {
    const s = await deploy(emulators, { clusterAllows: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(s.results[0].checked).toContain('3 event-driven lists');
    const devices = expectedDevices('cdktf.out', s.dir);
    expect(devices[0].plan.lists.map((l) => l.path)).toEqual([
      '/Common/Shared/k8s_alpha_src_cluster',
      expect.stringMatching(/^\/Common\/Shared\/k8s_alpha_src_cluster_[0-9a-f]{16}$/),
      '/Common/Shared/k8s_alpha_src_ns_web',
    ]);
    expect(divergences(s)).toEqual([]);
    // Every pod may reach the partner's NTP, only payments 192.0.2.99:8443; DNS for any address of the pod network.
    const { firewall, state } = observedFirewall(s.results[0].observed, ['k8s_alpha'], new Map());
    const verdict = (ip: string, destinationIp: string, protocol: string, port: number) =>
      firewall.evaluate({ sourceIp: ip, routeDomain: 0, destinationIp, protocol, port }, state).verdict;
    expect(['10.1.1.10', '10.1.2.10', '10.1.2.11'].map((ip) => verdict(ip, '192.0.2.9', 'udp', 123))).toEqual(['allow', 'allow', 'allow']);
    expect(['10.1.1.10', '10.1.2.10', '10.1.2.11'].map((ip) => verdict(ip, '192.0.2.99', 'tcp', 8443))).toEqual(['deny', 'allow', 'allow']);
    // An address of the pod network no pod holds: in no list, but inside the pod CIDRs.
    expect(verdict('10.1.7.7', '192.0.2.9', 'udp', 123)).toBe('deny');
    expect(verdict('10.1.7.7', '10.96.0.10', 'udp', 53)).toBe('allow');
    expect(verdict('10.1.7.7', '203.0.113.5', 'tcp', 443)).toBe('deny');
  });
});

describe('an AfmDevice that owns its BIG-IP', () => {
  let emulators: Emulators;
  let step: Step | undefined;
  const steps: Step[] = [];
  beforeAll(async () => {
    emulators = await start();
  });
  afterAll(async () => {
    await emulators.stop();
    removeSynthDirs();
  });
  const next = async (v: AppVersion): Promise<Step> => {
    step = await deploy(emulators, v, step);
    steps.push(step);
    return step;
  };

  test('1 first deploy: verify passes, both policies of every context are attached, and the device decides as the policy does', async () => {
    const s = await next({ serviceRule: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(s.results[0].checked).toEqual([
      'AS3 task results',
      'stored declaration',
      'context attachments',
      'route domains',
      '2 event-driven lists',
      'saved tmsh changes',
    ]);
    expect(emulators.bigip.globalRules()).toEqual({
      enforcedPolicy: '/Common/Shared/k8s_alpha_global_policy',
      stagedPolicy: '/Common/Shared/k8s_alpha_global_policy_staged',
    });
    expect(emulators.bigip.routeDomain('/Common/0')).toEqual({
      enforcedPolicy: '/Common/Shared/k8s_alpha_rd0_policy',
      stagedPolicy: '/Common/Shared/k8s_alpha_rd0_policy_staged',
    });
    expect(divergences(s)).toEqual([]);
  });

  test('2 a rule with an FQDN destination is added: the resolver is checked too', async () => {
    const s = await next({ serviceRule: true, ntp: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(s.results[0].checked).toContain('FQDN resolver');
    expect(divergences(s)).toEqual([]);
  });

  test('3 a service rule is removed (AS3 deletes its lists in the final Common pass, after the tenant stopped using them)', async () => {
    const s = await next({ ntp: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('4 audit is switched on: the would-be verdicts match', async () => {
    const s = await next({ ntp: true, audit: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('5 B2: audit is switched off: verify passes, and the device no longer applies the audit rule', async () => {
    const s = await next({ ntp: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(emulators.bigip.globalRules().stagedPolicy).toBe('/Common/Shared/k8s_alpha_global_policy_staged');
    expect(divergences(s)).toEqual([]);
  });

  test('6 a rule is renamed', async () => {
    const s = await next({ ntp: true, renamed: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('7 the route domain changes from 0 to 2: route domain 0 is released, route domain 2 gets both policies', async () => {
    const s = await next({ ntp: true, renamed: true, routeDomain: 2 });
    expect(errorsOf(s.results)).toEqual([]);
    expect(emulators.bigip.routeDomain('/Common/0')).toEqual({});
    expect(emulators.bigip.routeDomain('/Common/2')).toEqual({
      enforcedPolicy: '/Common/Shared/k8s_alpha_rd2_policy',
      stagedPolicy: '/Common/Shared/k8s_alpha_rd2_policy_staged',
    });
    expect(divergences(s)).toEqual([]);
  });

  test('W1: the tmsh changes of every step are saved', () => {
    expect(steps).toHaveLength(7);
    expect(steps.flatMap((s) => problemsOf(s, 'saved-config'))).toEqual([]);
  });

  test('8 destroy leaves nothing of the deploy on the device, and verify of the output then fails', async () => {
    const last = step as Step;
    await destroyBigip(last.dir, emulators);
    const [device] = expectedDevices('cdktf.out', last.dir);
    const { observed } = await observeDevice(device, bigipDeviceReader(emulators.bigipClient));
    expect(observed.declaration).toBeNull();
    expect(observed.globalRules).toEqual({});
    expect(observed.routeDomains).toEqual([
      { path: '/Common/0', id: 0 },
      { path: '/Common/2', id: 2 },
    ]);
    const after = await verifyAll(last.dir, emulators);
    expect(errorShapes({ dir: last.dir, results: after })).toEqual([
      'address-list /Common/Shared/k8s_alpha_src_ns_web',
      'attachment global context enforced-policy',
      'attachment global context staged-policy',
      'attachment route domain /Common/2 fw-enforced-policy',
      'attachment route domain /Common/2 fw-staged-policy',
      'declaration AS3 tenant k8s_alpha',
      'fqdn-resolver global FQDN policy dns-resolver',
    ]);
  });
});

describe('two clusters on a SharedBigip', () => {
  let emulators: Emulators;
  let step: Step | undefined;
  beforeAll(async () => {
    emulators = await start();
  });
  afterAll(async () => {
    await emulators.stop();
    removeSynthDirs();
  });
  const next = async (v: AppVersion): Promise<Step> => (step = await deploy(emulators, { shared: true, ...v }, step));

  test('1 first deploy: the SharedBigip declaration goes first, the tenants point into /Common/Shared; verify passes', async () => {
    const s = await next({ serviceRule: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('2 a rule is added', async () => {
    const s = await next({ serviceRule: true, ntp: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('3 B4: a service rule is removed: verify passes', async () => {
    const s = await next({ ntp: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(problemsOf(s, 'as3-task')).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('4 audit on', async () => {
    const s = await next({ ntp: true, audit: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('5 B2: audit off: verify passes', async () => {
    const s = await next({ ntp: true });
    expect(errorsOf(s.results)).toEqual([]);
    expect(divergences(s)).toEqual([]);
  });

  test('6 destroy leaves nothing of the deploy', async () => {
    await destroyBigip((step as Step).dir, emulators);
    expect(emulators.bigip.declaration()).toBeUndefined();
    expect(emulators.bigip.globalRules()).toEqual({});
    expect([emulators.bigip.routeDomain('/Common/0'), emulators.bigip.routeDomain('/Common/2')]).toEqual([{}, {}]);
  });
});
