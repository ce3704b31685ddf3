import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Testing, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressController,
  EgressCrdStack,
  EgressDestination as D,
  EgressGuardrails,
  EgressPolicyError,
  EgressPort as P,
  EgressSynthError,
  ExpiredRuleMode,
  ExternalService,
  NamespaceEgressRule,
  ServiceEgressRule,
  SharedBigip,
} from '../../lib';
import { deviceStack } from '../support/app';

const DAY = 24 * 60 * 60 * 1000;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();

function synthError(run: () => void): EgressSynthError {
  try {
    run();
  } catch (e) {
    if (e instanceof EgressSynthError) return e;
    throw e;
  }
  throw new Error('synth succeeded');
}

/** An app with problems in every kind of construct, on every level, in two stacks. */
function brokenApp() {
  const { app, stack, device, crds } = deviceStack({ dnsResolver: undefined });
  EgressGuardrails.applyTo(app, { name: 'security baseline', requireOwner: true });
  // Each constructor returns: the first broken construct does not stop the app.
  new ClusterEgressRule(stack, 'AllowDns', {
    device,
    owner: 'sec',
    action: EgressAction.ALLOW,
    priority: 5000,
    destinations: [D.cidr('10.96.0.10/32')],
    ports: [P.udp(53)],
  });
  new NamespaceEgressRule(stack, 'PaymentsSftp', {
    device,
    owner: 'pay',
    namespace: 'Payments',
    action: EgressAction.ALLOW,
    destinations: [D.cidr('192.0.2.0/24')],
  });
  new ServiceEgressRule(stack, 'Checkout', {
    device,
    namespace: 'shop',
    service: 'checkout',
    action: EgressAction.ALLOW,
    destinations: [D.anyIpv4()],
  });
  new ServiceEgressRule(stack, 'CheckoutAgain', {
    device,
    owner: 'shop',
    name: 'checkout',
    namespace: 'shop',
    service: 'checkout',
    action: EgressAction.DENY,
    destinations: [D.cidr('198.51.100.0/24')],
  });
  new NamespaceEgressRule(stack, 'Partner', {
    device,
    owner: 'pay',
    namespace: 'pay',
    action: EgressAction.ALLOW,
    destinations: [D.fqdn('api.partner.example')],
  });
  new ExternalService(stack, 'Bank', { device, destinations: [] });
  // A second rule stack: its problems are reported with the first stack's.
  const west = new TerraformStack(app, 'west');
  new KubernetesProvider(west, 'k8s', {});
  const westDevice = new AfmDevice(west, 'Bigip', {
    clusterName: 'west',
    address: 'bigip-west.example.net',
    tlsCaBundlePath: '/ca.pem',
    crdStack: crds,
  });
  new NamespaceEgressRule(west, 'Web', {
    device: westDevice,
    owner: 'web',
    namespace: 'web',
    action: EgressAction.ALLOW,
    destinations: [D.cidr('10.0.0.1/8')],
  });
  return { app, stack, west };
}

describe('synth reports every problem of every construct at once', () => {
  test('one line per problem, grouped by construct, after a count', () => {
    const { app } = brokenApp();
    const error = synthError(() => app.synth());
    const lines = error.message.split('\n');
    expect(lines).toEqual([
      '8 problems in 7 constructs; nothing was synthesized. Fix each line and synthesize again:',
      expect.stringMatching(/^\[egress\/Bigip\] dnsResolver: FQDN destinations are resolved by the BIG-IP.*\(got nothing\)$/),
      '[egress/AllowDns] priority: is out of range: use a whole number from 0 (evaluated first) to 1000 (got 5000)',
      expect.stringMatching(/^\[egress\/PaymentsSftp\] namespace: must be a DNS label: .* \(got "Payments"\)$/),
      '[egress/Checkout] guardrail requireOwner of "security baseline": every rule needs an owner; set owner to the team or person responsible (got "checkout")',
      expect.stringMatching(
        /^\[egress\/Checkout\] guardrail forbidCatchAll of "security baseline": allows every address \(0\.0\.0\.0\/0\).* \(got "checkout"\)$/,
      ),
      expect.stringMatching(
        /^\[egress\/CheckoutAgain\] name: another service rule in namespace "shop" on device egress\/Bigip has this name \(egress\/Checkout\); .* \(got "checkout"\)$/,
      ),
      expect.stringMatching(/^\[egress\/Bank\] destinations: an external service needs at least one destination; .* \(got \[\]\)$/),
      expect.stringMatching(/^\[west\/Web\] destinations\[0\]: .*\(got "10\.0\.0\.1\/8"\)$/),
    ]);
    expect(error.issues).toHaveLength(8);
    // Grouped: the lines of one construct are consecutive.
    const paths = lines.slice(1).map((l) => /^\[([^\]]+)\]/.exec(l)?.[1]);
    expect(paths.filter((p, i) => i > 0 && p !== paths[i - 1] && paths.slice(0, i).includes(p))).toEqual([]);
    // No trace of our code: the stack is the message and one line saying so.
    expect(error.stack).toBe(`EgressSynthError: ${error.message}\n    at cdktf synth (the 8 problems above)`);
    expect(error).toBeInstanceOf(EgressPolicyError);
    expect(Object.keys(error)).not.toContain('issues');
  });

  test('nothing is written, and a refused rule renders nothing even when validation is skipped', () => {
    const app = Testing.app({ skipValidation: true } as never);
    const { stack, device } = deviceStack({}, app);
    new NamespaceEgressRule(stack, 'Bad', { device, namespace: 'Payments', action: EgressAction.ALLOW, destinations: [D.anyIpv4()] });
    new NamespaceEgressRule(stack, 'Good', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
    });
    // Without validations the problem is still an error annotation, which cdktf refuses.
    expect(() => app.synth()).toThrow(/\[egress\/Bad\] namespace: must be a DNS label/);
    const tf = JSON.parse(Testing.synth(stack));
    const crs = Object.values(tf.resource.kubernetes_manifest as Record<string, { manifest: { metadata: { name: string } } }>).map(
      (m) => m.manifest.metadata.name,
    );
    expect(crs).toEqual(['good']);
    expect(tf.resource.bigip_as3 && JSON.stringify(tf.resource.bigip_as3)).not.toMatch(/bad/);
  });

  test('with validation skipped, a device with problems writes nothing either', () => {
    const app = Testing.app({ skipValidation: true } as never);
    const { stack, device } = deviceStack({}, app);
    EgressGuardrails.applyTo(app, { expiredRules: ExpiredRuleMode.FAIL });
    new NamespaceEgressRule(stack, 'Old', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
      expiresAt: '2021-03-01T00:00:00Z',
    });
    expect(() => app.synth()).toThrow(/\[egress\/Old\] expiresAt: expired at 2021-03-01T00:00:00Z/);
  });

  test('the first broken construct no longer stops the program', () => {
    const { stack, device } = deviceStack();
    expect(
      () => new ClusterEgressRule(stack, 'A', { device, action: EgressAction.ALLOW, destinations: [D.cidr('10.0.0.1/8')] }),
    ).not.toThrow();
    expect(
      () => new ClusterEgressRule(stack, 'B', { device, action: EgressAction.ALLOW, priority: -1, destinations: [D.anyIpv4()] }),
    ).not.toThrow();
  });
});

/** Every file synth wrote under `dir`. */
function written(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/**
 * An app with a refused AfmDevice (and a rule, an ExternalService and a controller on it), a
 * refused SharedBigip (and a device on it), a refused EgressController and broken rules on a
 * good device, and guardrails refused on the app.
 */
function brokenDevicesApp(app: App = Testing.app(), guardrails = true) {
  const { stack, crds, device } = deviceStack({}, app);
  if (guardrails) EgressGuardrails.applyTo(app, { name: 'sec', maxRulesPerNamespace: 0 });
  const bad = new AfmDevice(stack, 'BadDevice', {
    clusterName: 'Prod_2',
    address: 'https://bigip2.example.net',
    tlsCaBundlePath: '/ca.pem',
    crdStack: crds,
  });
  new NamespaceEgressRule(stack, 'OnBadDevice', {
    device: bad,
    namespace: 'web',
    action: EgressAction.ALLOW,
    destinations: [D.cidr('192.0.2.0/24')],
  });
  new NamespaceEgressRule(stack, 'BrokenOnBadDevice', {
    device: bad,
    namespace: 'Web',
    action: EgressAction.ALLOW,
    destinations: [D.cidr('192.0.2.0/24')],
  });
  const service = new ExternalService(stack, 'BankOnBadDevice', { device: bad, destinations: [D.address('198.51.100.7')] });
  new NamespaceEgressRule(stack, 'ToBank', {
    device,
    namespace: 'web',
    action: EgressAction.ALLOW,
    destinations: [D.externalService(service)],
  });
  new EgressController(stack, 'ControllerOfBadDevice', {
    device: bad,
    credentialsSecret: 'bigip-login',
    caBundleConfigMap: 'bigip-ca',
    image: 'registry.example/cdktf-ces:1',
  });
  new EgressController(stack, 'BadController', {
    device,
    credentialsSecret: 'bigip-login',
    caBundleConfigMap: 'bigip-ca',
    image: 'registry.example/cdktf-ces:1',
    replicas: 9,
  });
  const shared = new SharedBigip(stack, 'BadShared', { address: 'bigip3.example.net', tlsCaBundlePath: '/ca.pem', name: 'bad-name' });
  new AfmDevice(stack, 'OnBadShared', { clusterName: 'east', sharedBigip: shared, crdStack: crds });
  new ClusterEgressRule(stack, 'AllowDns', {
    device,
    priority: 5000,
    action: EgressAction.ALLOW,
    destinations: [D.cidr('10.96.0.10/32')],
    ports: [P.udp(53)],
  });
  new NamespaceEgressRule(stack, 'Wide', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('10.0.0.1/8')] });
  return { app, stack };
}

describe('refused devices, SharedBigips, controllers and guardrails are reported with the rules', () => {
  test('one error, one line per problem; what refers to a refused construct adds no line', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-problems-'));
    const { app } = brokenDevicesApp(new App({ outdir }));
    const error = synthError(() => app.synth());
    expect(error.message.split('\n')).toEqual([
      '8 problems in 7 constructs; nothing was synthesized. Fix each line and synthesize again:',
      expect.stringMatching(/^\[\(app\)\] guardrails "sec"|^\[guardrails "sec"\] maxRulesPerNamespace: .*\(got 0\)$/),
      expect.stringMatching(
        /^\[egress\/BadDevice\] address: must be a host name or IP address without scheme.*\(got "https:\/\/bigip2\.example\.net"\)$/,
      ),
      expect.stringMatching(/^\[egress\/BadDevice\] clusterName: must be a DNS label.*\(got "Prod_2"\)$/),
      expect.stringMatching(/^\[egress\/BrokenOnBadDevice\] namespace: must be a DNS label: .* \(got "Web"\)$/),
      expect.stringMatching(/^\[egress\/BadController\] replicas: .*\(got 9\)$/),
      expect.stringMatching(/^\[egress\/BadShared\] name: .*\(got "bad-name"\)$/),
      '[egress/AllowDns] priority: is out of range: use a whole number from 0 (evaluated first) to 1000 (got 5000)',
      expect.stringMatching(/^\[egress\/Wide\] destinations\[0\]: .*\(got "10\.0\.0\.1\/8"\)$/),
    ]);
    expect(written(outdir)).toEqual([]);
  });

  test('with validation skipped, nothing that refers to a refused construct is written either', () => {
    const app = new App({ skipValidation: true, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'synth-problems-')) });
    const { stack } = brokenDevicesApp(app, false);
    const device = stack.node.findChild('Bigip') as AfmDevice;
    new NamespaceEgressRule(stack, 'Good', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
    });
    expect(() => app.synth()).toThrow(
      /\[egress\/OnBadDevice\] not built: it refers to egress\/BadDevice, which has problems \(reported there\)/,
    );
    // The stack's configuration is not written (the good device's own artifact may be).
    expect(written(app.outdir).filter((f) => f.startsWith('stacks/egress/cdk.tf'))).toEqual([]);
    const tf = JSON.parse(Testing.synth(stack));
    // The good rule only: nothing of the refused device, its rule, service and controller, nor
    // of the rule on that service or the refused controller; one declaration, no tmsh of the
    // refused device or SharedBigip.
    const manifests = Object.values(
      tf.resource.kubernetes_manifest as Record<string, { manifest: { kind: string; metadata: { name: string } } }>,
    ).map((m) => `${m.manifest.kind}/${m.manifest.metadata.name}`);
    expect(manifests).toEqual(['NamespaceEgressRule/good']);
    expect(Object.keys(tf.resource.bigip_as3)).toHaveLength(1);
    expect(JSON.stringify(tf.resource.bigip_command ?? {})).not.toMatch(/bigip2|bigip3|bad_name/);
  });

  test('a refused construct renders nothing, and its dependents are not built', () => {
    const { stack, crds, device } = deviceStack();
    const bad = new AfmDevice(stack, 'BadDevice', {
      clusterName: 'Prod_2',
      address: 'bigip2.example.net',
      tlsCaBundlePath: '/ca.pem',
      crdStack: crds,
    });
    const rule = new NamespaceEgressRule(stack, 'OnBadDevice', {
      device: bad,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
    });
    const controller = new EgressController(stack, 'Controller', {
      device: bad,
      credentialsSecret: 'bigip-login',
      caBundleConfigMap: 'bigip-ca',
      image: 'registry.example/cdktf-ces:1',
    });
    const shared = new SharedBigip(stack, 'Shared', { address: 'bigip3.example.net', tlsCaBundlePath: '/ca.pem', port: 0 });
    const onShared = new AfmDevice(stack, 'OnShared', { clusterName: 'east', sharedBigip: shared, crdStack: crds });
    const badCrds = new EgressCrdStack(stack.node.root, 'badCrds', { kubernetes: { configPaht: '~/.kube/config' } as never });
    const onBadCrds = new AfmDevice(stack, 'OnBadCrds', {
      clusterName: 'west',
      address: 'bigip4.example.net',
      tlsCaBundlePath: '/ca.pem',
      crdStack: badCrds,
    });
    for (const c of [bad, rule, controller, shared, onShared, badCrds, onBadCrds]) expect(c.node.children).toEqual([]);
    expect(controller.resources).toEqual([]);
    expect(bad.declaration).toBeUndefined();
    // The good device does not know the rule of the refused one.
    expect(device._policyModel().rules).toEqual([]);
  });

  test('with validation skipped, guardrails refused on the app stop the devices below it', () => {
    const app = new App({ skipValidation: true, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'synth-problems-')) });
    const { stack, device } = deviceStack({}, app);
    EgressGuardrails.applyTo(app, { name: 'sec', maxRulesPerNamespace: 0 });
    new NamespaceEgressRule(stack, 'Web', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')] });
    expect(() => app.synth()).toThrow(/\[guardrails "sec"\] maxRulesPerNamespace: must be a whole number of at least 1 \(got 0\)/);
    expect(written(app.outdir).filter((f) => f.startsWith('stacks/egress'))).toEqual([]);
  });

  test('guardrails refused on a stack are reported, and not applied', () => {
    const { app, stack } = deviceStack();
    const guardrails = EgressGuardrails.applyTo(stack, { name: 'sec', requireOwnr: true } as never);
    expect(guardrails.name).toBe('sec');
    expect(() => app.synth()).toThrow(/\[guardrails "sec"\] requireOwnr: is not a (prop|guardrail).*did you mean "requireOwner"/);
  });

  test('construction mistakes with nowhere to record still throw', () => {
    const { app, stack, crds } = deviceStack();
    expect(
      () => new AfmDevice(app, 'Bigip2', { clusterName: 'x', address: 'b.example.net', tlsCaBundlePath: '/ca.pem', crdStack: crds }),
    ).toThrow(/scope: the scope of an AfmDevice must be a construct in a TerraformStack/);
    expect(() => new EgressController(stack, 42 as never, {} as never)).toThrow(
      /id: the construct id of an EgressController must be a non-empty string/,
    );
    expect(() => new EgressGuardrails({ name: '  ' })).toThrow(/^\[guardrails\] name: must be 1 to 64 characters/);
  });
});

describe('expiry warns and never blocks by default', () => {
  const warningsOf = (stack: TerraformStack, id: string) =>
    stack.node
      .findChild(id)
      .node.metadata.filter((m) => m.type === '@cdktf/warn')
      .map((m) => m.data as string);

  test('an expired rule warns; an emergency DENY added at the same time ships', () => {
    const { app, stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'Old', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
      expiresAt: '2021-03-01T00:00:00Z',
    });
    new ClusterEgressRule(stack, 'Emergency', { device, action: EgressAction.DENY, priority: 0, destinations: [D.cidr('203.0.113.0/24')] });
    expect(() => app.synth()).not.toThrow();
    expect(warningsOf(stack, 'Old')).toEqual([
      expect.stringMatching(/^expiresAt: expired at 2021-03-01T00:00:00Z and is no longer enforced/),
    ]);
  });

  test('a rule expiring within 14 days warns ahead; the window is configurable', () => {
    const { app, stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'Soon', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
      expiresAt: inDays(3),
    });
    new NamespaceEgressRule(stack, 'Later', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
      expiresAt: inDays(20),
    });
    app.synth();
    expect(warningsOf(stack, 'Soon')).toEqual([
      expect.stringMatching(/^expiresAt: expires at .* \(in 3 days\) and is no longer enforced after it; set a later expiresAt/),
    ]);
    expect(warningsOf(stack, 'Later')).toEqual([]);

    const wide = deviceStack();
    EgressGuardrails.applyTo(wide.app, { expiryWarningDays: 30 });
    new NamespaceEgressRule(wide.stack, 'Later', {
      device: wide.device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
      expiresAt: inDays(20),
    });
    wide.app.synth();
    expect(warningsOf(wide.stack, 'Later')).toEqual([expect.stringMatching(/\(in 20 days\)/)]);
  });

  test('guardrails with expiredRules FAIL make an expired rule a problem', () => {
    const { app, stack, device } = deviceStack();
    EgressGuardrails.applyTo(app, { name: 'strict', expiredRules: ExpiredRuleMode.FAIL });
    new NamespaceEgressRule(stack, 'Old', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('192.0.2.0/24')],
      expiresAt: '2021-03-01T00:00:00Z',
    });
    expect(() => app.synth()).toThrow(
      /\[egress\/Old\] expiresAt: expired at 2021-03-01T00:00:00Z and is no longer enforced .* \(guardrails "strict" refuse expired rules: expiredRules is FAIL\) \(got "2021-03-01T00:00:00Z"\)/,
    );
  });

  test.each([
    [{ expiredRules: 'fail' }, /expiredRules: must be ExpiredRuleMode.FAIL or ExpiredRuleMode.WARN/],
    [{ expiryWarningDays: -1 }, /expiryWarningDays: must be a whole number of days from 0 to 3660 \(got -1\)/],
  ])('bad expiry settings are refused: %p', (props, message) => {
    expect(() => new EgressGuardrails(props as never)).toThrow(message);
  });
});

test('the policy of a device that is not built is its problems, never a TypeError', () => {
  const { stack, crds } = deviceStack();
  const bad = new AfmDevice(stack, 'BadDevice', {
    clusterName: 'Prod_2',
    address: 'bigip2.example.net',
    tlsCaBundlePath: '/ca.pem',
    crdStack: crds,
  });
  expect(() => bad._compile()).toThrow(/^\[egress\/BadDevice\] clusterName: must be a DNS label/);
  const shared = new SharedBigip(stack, 'Shared', { address: 'bigip3.example.net', tlsCaBundlePath: '/ca.pem', port: 0 });
  const onShared = new AfmDevice(stack, 'OnShared', { clusterName: 'east', sharedBigip: shared, crdStack: crds });
  expect(() => onShared._compile()).toThrow(
    /^\[egress\/OnShared\] sharedBigip: is not built \(its problems are reported at synth\): fix it, and this device is built too \(got "egress\/Shared"\)$/,
  );
});
