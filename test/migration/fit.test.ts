/**
 * An import that fits a policy already in place: --prefix keeps the names apart, --owner,
 * --ticket and --justification satisfy the ownership guardrails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Testing } from 'cdktf';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressGuardrails, EgressPort, NamespaceEgressRule } from '../../lib';
import { importCes } from '../../lib/migration';
import { cli } from '../cli/support';
import { loadGenerated, migratedApp } from './support';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'ces', 'egress-policy.yaml');
const text = fs.readFileSync(FIXTURE, 'utf8');
const LIBRARY = 'cdktf-ces-under-test';

/** An app whose device already has rules named like CES's, under ownership guardrails. */
function existingPolicy(): App {
  const app = Testing.app();
  EgressGuardrails.applyTo(app, { name: 'baseline', requireOwner: true, requireTicket: true });
  return app;
}

function addExisting(app: App, fn: ReturnType<typeof loadGenerated>): void {
  const { stack, device } = migratedApp(fn, {}, app);
  // Rules the device had before the migration, with the names the CES objects use.
  new ClusterEgressRule(stack, 'ExistingDns', {
    device,
    name: 'allow-dns',
    action: EgressAction.ALLOW_FINAL,
    priority: 100,
    destinations: [EgressDestination.address('10.96.0.10')],
    ports: [EgressPort.DNS_UDP],
    owner: 'security',
    ticket: 'SEC-1',
  });
  new NamespaceEgressRule(stack, 'ExistingSftp', {
    device,
    name: 'bank-transfer-tcp22',
    namespace: 'payments',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.address('198.51.100.5')],
    ports: [EgressPort.SSH],
    owner: 'payments',
    ticket: 'PAY-1',
  });
}

describe('import into an existing policy', () => {
  test('without the options the migrated rules fail the ownership guardrails', () => {
    const plain = importCes(text, 'ces.yaml', { library: LIBRARY });
    const app = existingPolicy();
    expect(() => {
      migratedApp(loadGenerated(plain.module, LIBRARY), {}, app);
      app.synth();
    }).toThrow(/guardrail requireOwner of "baseline"/);
  });

  test('without --prefix a migrated name clashes with a rule the device has', () => {
    const plain = importCes(text, 'ces.yaml', { library: LIBRARY, metadata: { owner: 'migration', ticket: 'NET-42' } });
    const app = existingPolicy();
    expect(() => {
      addExisting(app, loadGenerated(plain.module, LIBRARY));
      app.synth();
    }).toThrow(/name: another (cluster|namespace) rule on device egress\/Bigip has this name/);
  });

  test('with --prefix, --owner and --ticket the migrated rules synthesize beside the existing ones', () => {
    const fitted = importCes(text, 'ces.yaml', {
      library: LIBRARY,
      prefix: 'ces',
      metadata: { owner: 'migration', ticket: 'NET-42', justification: 'migrated from CES' },
    });
    expect(fitted.plan.rules.every((r) => r.name.startsWith('ces-'))).toBe(true);
    expect(fitted.plan.externalServices.every((es) => es.name.startsWith('ces-'))).toBe(true);
    expect(fitted.module).toContain("      name: 'ces-allow-dns',\n");
    expect(fitted.module).toContain(
      '//   Every rule and ExternalService name below starts with "ces-" (import --prefix), apart from the\n//   names the device already has.\n',
    );
    expect(fitted.module).toContain("      owner: 'migration',\n      ticket: 'NET-42',\n      justification: 'migrated from CES',\n");
    const app = existingPolicy();
    addExisting(app, loadGenerated(fitted.module, LIBRARY));
    expect(() => app.synth()).not.toThrow();
  });

  test('a generated description that would make the AFM remark too long is left out; ownership stays', () => {
    const fitted = importCes(text, 'ces.yaml', { metadata: { owner: 'network-migration-team', ticket: 'NETWORK-2026-0042' } });
    const long = fitted.plan.rules.find((r) => r.source.name === 'checkout-to-stripe');
    expect(long?.metadata).toEqual({ owner: 'network-migration-team', ticket: 'NETWORK-2026-0042' });
    // "NETWORK-2026-0042 network-migration-team: CES ServiceEgressRule payments/checkout-to-stripe" is 89 characters.
    expect(long?.description).toBeUndefined();
    const short = importCes(text, 'ces.yaml', { metadata: { owner: 'net', ticket: 'N-1' } }).plan.rules.find(
      (r) => r.source.name === 'allow-dns',
    );
    expect(short?.description).toBe('CES ClusterEgressRule allow-dns');
  });
});

describe('import command options', () => {
  const dir = path.dirname(FIXTURE);

  test('--prefix, --owner, --ticket, --justification reach the module', async () => {
    const r = await cli(
      dir,
      'import',
      'egress-policy.yaml',
      '--allow-partial',
      '--prefix',
      'ces',
      '--owner',
      'migration',
      '--ticket',
      'NET-42',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "    'ces-kube-system-cluster-dns': new ExternalService(scope, 'ExternalService_ces-kube-system-cluster-dns', {",
    );
    expect(r.stdout).toContain("      name: 'ces-allow-dns',\n");
    expect(r.stdout).toContain(
      "      description: 'CES ClusterEgressRule allow-dns',\n      owner: 'migration',\n      ticket: 'NET-42',\n",
    );
  });

  test.each([
    [
      ['--prefix', 'CES'],
      '--prefix (got "CES"); write a lower-case DNS label of at most 20 characters that starts with a letter, such as "ces"',
    ],
    [
      ['--prefix', '1ces'],
      '--prefix (got "1ces"); write a lower-case DNS label of at most 20 characters that starts with a letter, such as "ces"',
    ],
    [
      ['--owner', 'a|b'],
      '--owner (got "a|b"); it may contain only letters, digits, spaces and _ . , : ; @ # ( ) / + = - (it reaches AS3, tmsh and iRules)',
    ],
    [['--ticket', '   '], '--ticket (got "   "); it must contain a letter or digit'],
    [
      ['--owner', 'o'.repeat(40), '--ticket', 't'.repeat(30)],
      `--ticket, --owner and --justification (got "${'t'.repeat(30)} ${'o'.repeat(40)}"); together they make a 71-character AS3 rule remark ("<ticket> <owner>: <justification>") and AS3 allows 64; shorten them`,
    ],
  ])('%j is bad input', async (argv, message) => {
    expect(await cli(dir, 'import', 'egress-policy.yaml', ...argv)).toEqual({
      code: 2,
      stdout: '',
      stderr: `cdktf-ces import: ${message}\n`,
    });
  });
});
