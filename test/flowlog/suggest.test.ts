/**
 * `cdktf-ces suggest`: rules learned from observed flows, in the library's API, each saying what
 * it covers; and the acceptance property: once added, every observed needed flow is allowed in
 * simulate and nothing beyond what the rules say they cover changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { DnsAnswers, explain, PolicyView, policyView } from '../../lib/analysis/engine';
import { readSynthOutput } from '../../lib/analysis/synth-output';
import { FLOW_RECORD_FORMAT, FlowRecord } from '../../lib/flowlog/enrich';
import { AGGREGATE_AT, mergePorts, renderedPolicy, suggestRules, withSuggestion } from '../../lib/flowlog/suggest';
import { parseAddressEntry, tryParseIp } from '../../lib/policy/ip';
import type { PolicyModel } from '../../lib/policy/model';
import { cli, write } from '../cli/support';
import { demoFlowLines, demoModel, synthDemo } from './support';

let dir: string;

beforeAll(() => {
  dir = synthDemo();
  write(dir, 'flows.jsonl', demoFlowLines(readSynthOutput('cdktf.out', dir)[0].artifact.model));
});

test('a Service: the module, how each observed flow fares with it, and what adopting it changes', async () => {
  const r = await cli(dir, 'suggest', 'flows.jsonl', '--service', 'web/frontend');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    [
      '// Egress rules suggested by "cdktf-ces suggest" for Service web/frontend of egress/k8s_demo (egress/Bigip),',
      '// from 1 observed event in 1 flow that no rule allowed. Review before adding them.',
      "import { Construct } from 'constructs';",
      "import { AfmDevice, EgressAction, EgressDestination, EgressPort, ServiceEgressRule } from 'cdktf-ces';",
      '',
      '/** Rules for the flows of Service web/frontend that no rule allowed. */',
      'export function addSuggestedEgressRules(scope: Construct, device: AfmDevice): Construct[] {',
      '  return [',
      '    // Covers 198.51.100.80 on tcp 443; nothing else.',
      '    //   198.51.100.80: observed address (fewer than 4 of its /24)',
      '    // Observed: web/frontend -> 198.51.100.80:443/tcp (1x, deny by device default)',
      "    new ServiceEgressRule(scope, 'observed-1', {",
      '      device,',
      "      name: 'observed-1',",
      "      namespace: 'web',",
      "      service: 'frontend',",
      '      action: EgressAction.ALLOW,',
      "      destinations: [EgressDestination.address('198.51.100.80')],",
      '      ports: [EgressPort.tcp(443)],',
      '      logging: true,',
      "      description: 'learned from 1 observed event, 2026-03-02T09:07:00.000Z to 2026-03-02T09:07:00.000Z',",
      '    }),',
      '  ];',
      '}',
      '',
      '// The observed flows, as simulate decides them at 2026-03-02T09:07:00.000Z (before -> with these rules):',
      '//   web/frontend -> 198.51.100.80:443/tcp: deny (device default) -> allow (ServiceEgressRule web/observed-1)',
      '//',
      '// What adopting them changes (cdktf-ces diff):',
      '//   # device k8s_demo (cluster demo): egress/k8s_demo (egress/Bigip) -> egress/k8s_demo (egress/Bigip) with the suggested rules',
      '//   # evaluated at 2026-03-02T09:07:00.000Z',
      '//   # workloads are hypothetical pods (give --state for the real ones): per namespace a rule names, one selected by each Service a rule names and one selected by none, and one in a namespace no rule names; a named namespace is assumed to carry no labels that a namespace selector tests',
      "//   # 101 flows per output through the AFM evaluator over each output's declaration: each of 5 workloads against every class of destination and port that the rules able to apply to it tell apart",
      '//   web/svc frontend: + 198.51.100.80:443/tcp (ServiceEgressRule web/observed-1)',
      '//   # 1 change for 1 of 5 workloads',
      '',
    ].join('\n'),
  );
});

test('a namespace: consecutive ports merge, addresses stay addresses below four per /24, staged events are left out; -o writes the file', async () => {
  const r = await cli(dir, 'suggest', 'flows.jsonl', '--namespace', 'payments', '-o', 'suggested.ts');
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('wrote 3 suggested rules for namespace payments to suggested.ts\n');
  const text = fs.readFileSync(path.join(dir, 'suggested.ts'), 'utf8');
  expect(
    text
      .split('\n')
      .filter((l) => l.includes('// Covers') || l.includes('ports:') || l.includes('-> allow') || l.startsWith('//   payments/')),
  ).toEqual([
    '    // Covers 192.0.2.25 on tcp 25; nothing else.',
    '      ports: [EgressPort.tcp(25)],',
    '    // Covers 203.0.113.7 on tcp 8443; nothing else.',
    '      ports: [EgressPort.tcp(8443)],',
    '    // Covers 203.0.113.9 on tcp 8443-8444; nothing else.',
    '      ports: [EgressPort.tcpRange(8443, 8444)],',
    '//   payments/checkout -> 192.0.2.25:25/tcp: deny (device default) -> allow (NamespaceEgressRule payments/observed-1)',
    '//   payments/settle-1 -> 203.0.113.7:8443/tcp: deny (device default) -> allow (NamespaceEgressRule payments/observed-2)',
    '//   payments/settle-1 -> 203.0.113.9:8443/tcp: deny (device default) -> allow (NamespaceEgressRule payments/observed-3)',
    '//   payments/settle-1 -> 203.0.113.9:8444/tcp: deny (device default) -> allow (NamespaceEgressRule payments/observed-3)',
    '//   payments/svc checkout, payments/other pods: + 192.0.2.25:25/tcp (NamespaceEgressRule payments/observed-1)',
    '//   payments/svc checkout, payments/other pods: + 203.0.113.7:8443/tcp (NamespaceEgressRule payments/observed-2)',
    '//   payments/svc checkout, payments/other pods: + 203.0.113.9:8443-8444/tcp (NamespaceEgressRule payments/observed-3)',
  ]);
});

test('bad options', async () => {
  expect((await cli(dir, 'suggest', 'flows.jsonl')).stderr).toBe(
    'cdktf-ces suggest: suggest needs exactly one of --namespace and --service (got neither); write --namespace <ns> for namespace rules, or --service <ns>/<service> for rules of one Service\n',
  );
  expect((await cli(dir, 'suggest', 'flows.jsonl', '--namespace', 'Pay')).code).toBe(2);
  expect((await cli(dir, 'suggest', 'flows.jsonl', '--namespace', 'payments', '--name-prefix', 'a b')).code).toBe(2);
});

test('ports: consecutive ones merge per protocol, gaps stay', () => {
  expect(
    mergePorts([
      { protocol: 'tcp', port: 445 },
      { protocol: 'tcp', port: 443 },
      { protocol: 'tcp', port: 444 },
      { protocol: 'tcp', port: 8080 },
      { protocol: 'udp', port: 443 },
      { protocol: 'icmp' },
    ]),
  ).toEqual([
    { protocol: 'tcp', fromPort: 443, toPort: 445 },
    { protocol: 'tcp', fromPort: 8080, toPort: 8080 },
    { protocol: 'udp', fromPort: 443, toPort: 443 },
    { protocol: 'icmp' },
  ]);
});

// ---------------------------------------------------------------------------------------------
// The acceptance property.

const AT = new Date('2026-03-02T10:00:00Z');
const IPS = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '198.51.100.30', '192.0.2.25', '192.0.2.26'];
const PROBE_IPS = [...IPS, '203.0.113.200', '198.51.100.31', '192.0.2.27', '10.96.0.10'];
const FQDNS = ['api.example.com', 'files.example.net'];
const PORTS = [443, 444, 445, 8080, 22];
const PROBE_PORTS = [...PORTS, 446, 8081, 25];

const recordArb = fc
  .record({
    pod: fc.constantFrom(
      { pod: 'settle-1' },
      { pod: 'checkout-1', services: ['checkout'] },
      { pod: 'front-1', services: ['frontend'], namespace: 'web' },
    ),
    ip: fc.constantFrom(...IPS),
    fqdn: fc.option(fc.constantFrom(...FQDNS), { nil: undefined, freq: 2 }),
    protocol: fc.constantFrom('tcp', 'udp'),
    port: fc.constantFrom(...PORTS),
    outcome: fc.constantFrom('deny', 'reject', 'default-allow', 'staged'),
  })
  .map(({ pod, ip, fqdn, protocol, port, outcome }): FlowRecord => ({
    format: FLOW_RECORD_FORMAT,
    time: '2026-03-02T09:30:00.000Z',
    verdict: outcome === 'reject' ? 'reject' : outcome === 'default-allow' ? 'allow' : 'deny',
    action: outcome === 'reject' ? 'reject' : outcome === 'default-allow' ? 'accept' : 'drop',
    staged: outcome === 'staged',
    source: { ip: '10.254.0.10', namespace: pod.namespace ?? 'payments', pod: pod.pod, services: pod.services ?? [] },
    destination: { ip, port, ...(fqdn !== undefined ? { fqdn } : {}) },
    protocol,
    afm: { rule: 'default' },
    defaultRule: true,
  }));

function view(model: PolicyModel): PolicyView {
  return policyView({ label: 'p', ...renderedPolicy(model, AT) });
}

test('suggest -> simulate: every needed flow becomes ALLOW, and no verdict changes outside what the rules say they cover', () => {
  const base = demoModel();
  const before = view(base);
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 12 }), fc.boolean(), (records, forService) => {
      const target = forService ? { namespace: 'payments', service: 'checkout' } : { namespace: 'payments' };
      const s = suggestRules(base, records, target);
      if (s.rules.length === 0) {
        expect(
          records.filter((r) => !r.staged && r.source.namespace === 'payments' && (!forService || r.source.services?.includes('checkout'))),
        ).toEqual([]);
        return;
      }
      const after = view(withSuggestion(base, s));
      const dns: DnsAnswers = { table: s.dns, origin: new Map() };
      const verdict = (
        v: PolicyView,
        from: { namespace: string; name: string },
        ip: string,
        host: string | undefined,
        protocol: string,
        port: number,
      ) =>
        explain(v, undefined, dns, { from, to: { text: host ?? ip, ...(host !== undefined ? { host } : { ip }), port, protocol }, at: AT })
          .verdict;
      // Every needed flow of the target is allowed.
      for (const f of s.flows) {
        const from = { namespace: 'payments', name: target.service ?? f.service ?? 'observed-workload' };
        expect([f.workload, f.fqdn ?? f.ip, f.port, verdict(after, from, f.ip, f.fqdn, f.protocol, f.port as number)]).toEqual([
          f.workload,
          f.fqdn ?? f.ip,
          f.port,
          'allow',
        ]);
      }
      // What a rule says it covers: its namespace (and Service), its destinations (an FQDN: the
      // addresses the logs gave it), its ports.
      const covered = (from: { namespace: string; name: string }, ip: string, protocol: string, port: number) =>
        s.rules.some((r) => {
          if (from.namespace !== r.model.namespace) return false;
          if (r.model.source.service !== undefined && from.name !== r.model.source.service) return false;
          const inPorts = r.model.ports.some(
            (p) => p.protocol === protocol && (p.fromPort === undefined || (port >= p.fromPort && port <= (p.toPort as number))),
          );
          const v = (tryParseIp(ip) as { value: bigint }).value;
          const inDest = r.model.destinations.some((d) =>
            d.kind === 'fqdn'
              ? (s.dns.get(d.text) ?? []).includes(ip)
              : d.kind !== 'externalService' && v >= parseAddressEntry(d.text).first && v <= parseAddressEntry(d.text).last,
          );
          return inPorts && inDest;
        });
      // Coverage is made of observations: each port range only of observed ports, each CIDR of
      // at least AGGREGATE_AT observed addresses, each address and name observed.
      for (const r of s.rules) {
        for (const p of r.model.ports) {
          if (p.fromPort === undefined) continue;
          for (let port = p.fromPort; port <= (p.toPort as number); port++)
            expect(r.flows.some((f) => f.protocol === p.protocol && f.port === port)).toBe(true);
        }
        for (const d of r.model.destinations) {
          if (d.kind === 'fqdn') expect(r.flows.some((f) => f.fqdn === d.text)).toBe(true);
          else if (d.kind === 'cidr')
            expect(
              new Set(
                r.flows
                  .filter(
                    (f) =>
                      f.fqdn === undefined &&
                      parseAddressEntry(d.text).first <= (tryParseIp(f.ip) as { value: bigint }).value &&
                      (tryParseIp(f.ip) as { value: bigint }).value <= parseAddressEntry(d.text).last,
                  )
                  .map((f) => f.ip),
              ).size,
            ).toBeGreaterThanOrEqual(AGGREGATE_AT);
          else if (d.kind === 'address') expect(r.flows.some((f) => f.fqdn === undefined && f.ip === d.text)).toBe(true);
        }
      }
      for (const ns of ['payments', 'web']) {
        for (const name of ['checkout', 'frontend', 'observed-workload']) {
          for (const ip of PROBE_IPS) {
            for (const port of PROBE_PORTS) {
              for (const protocol of ['tcp', 'udp']) {
                const from = { namespace: ns, name };
                const a = verdict(before, from, ip, undefined, protocol, port);
                const b = verdict(after, from, ip, undefined, protocol, port);
                if (a !== b)
                  expect([ns, name, ip, protocol, port, a, b, covered(from, ip, protocol, port)]).toEqual([
                    ns,
                    name,
                    ip,
                    protocol,
                    port,
                    a,
                    b,
                    true,
                  ]);
              }
            }
          }
        }
      }
    }),
    { numRuns: 40 },
  );
});
