import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdktf';
import { CesInputError, bandwidthRate, importCes, labelName, portsToken } from '../../lib/migration';
import { generatedDir, libraryFrom, loadGenerated, migratedApp, typeErrors } from './support';

const doc = (kind: string, name: string, namespace: string | undefined, spec: unknown) =>
  `apiVersion: kubeovn.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${JSON.stringify(name)}\n${namespace ? `  namespace: ${namespace}\n` : ''}spec: ${JSON.stringify(spec)}\n`;

describe('bandwidth values', () => {
  test.each([
    ['10Mbps', { maxBandwidth: 10, unit: 'Mbps' }],
    ['10M', { maxBandwidth: 10, unit: 'Mbps' }],
    ['500kbps', { maxBandwidth: 500, unit: 'Kbps' }],
    ['1G', { maxBandwidth: 1, unit: 'Gbps' }],
    ['2000', { maxBandwidth: 2000, unit: 'bps' }],
    ['bwc-1mbps-irule', { maxBandwidth: 1, unit: 'Mbps' }],
    ['bwc_100kbps', { maxBandwidth: 100, unit: 'Kbps' }],
  ])('%s states a rate', (text, rate) => {
    expect(bandwidthRate(text)).toEqual(rate);
  });

  test.each(['gold-tier', 'bwc-1mbps-to-2mbps', 'v2-irule', '0Mbps', 'bwc-1mbpsx'])('%s states none', (text) => {
    expect(bandwidthRate(text)).toBeUndefined();
  });
});

describe('names', () => {
  test('object names with dots and long names become DNS labels of at most 63 characters', () => {
    expect(labelName('allow.dns')).toBe('allow-dns');
    const long = `${'a'.repeat(70)}.example`;
    expect(labelName(long)).toMatch(/^a{54}-[0-9a-f]{8}$/);
    expect(labelName(long)).toBe(labelName(long));
  });

  test('port-set suffixes are readable and stable', () => {
    expect(portsToken([])).toBe('any');
    expect(
      portsToken([
        { protocol: 'udp', fromPort: 53, toPort: 53 },
        { protocol: 'tcp', fromPort: 8000, toPort: 8080 },
        { protocol: 'tcp', fromPort: 80, toPort: 80 },
      ]),
    ).toBe('tcp80-8000to8080-udp53');
  });

  test('split rules never collide with other rules, and renames are noted', () => {
    const text = [
      doc('ExternalService', 'a', 'kube-system', { addresses: ['192.0.2.1'], ports: [{ protocol: 'TCP', port: '443' }] }),
      doc('ExternalService', 'b', 'kube-system', { addresses: ['192.0.2.2'], ports: [{ protocol: 'TCP', port: '22' }] }),
      doc('ClusterEgressRule', 'web.rules-tcp443', undefined, { action: 'drop', externalServices: ['a'] }),
      doc('ClusterEgressRule', 'web.rules', undefined, { action: 'drop', externalServices: ['a', 'b', 'a'] }),
    ].join('---\n');
    const { plan } = importCes(text, 'x.yaml');
    expect(plan.rules.map((r) => r.name)).toEqual(['web-rules-tcp443', 'web-rules-tcp443-2', 'web-rules-tcp22']);
    expect(plan.notes.map((n) => `${n.resource} ${n.field}: ${n.why}`)).toEqual([
      'ClusterEgressRule web.rules-tcp443 metadata.name: imported as "web-rules-tcp443" (a DNS label of at most 63 characters)',
      'ClusterEgressRule web.rules spec.externalServices[2]: is listed twice; imported once',
      'ClusterEgressRule web.rules metadata.name: imported as "web-rules" (a DNS label of at most 63 characters)',
    ]);
  });
});

describe('semantics details', () => {
  test('DNS names among the addresses become FQDN destinations, as the CES controller renders them', () => {
    const text = [
      doc('ExternalService', 'api', 'shop', { addresses: ['api.partner.example', '192.0.2.9'] }),
      doc('NamespaceEgressRule', 'to-api', 'shop', { action: 'accept-decisively', externalServices: ['api'] }),
    ].join('---\n');
    const { plan, module } = importCes(text, 'x.yaml');
    expect(module).toContain("EgressDestination.fqdn('api.partner.example'),\n        EgressDestination.address('192.0.2.9'),");
    expect(plan.notes[0].why).toContain('CES renders such entries as FQDN entries');
  });

  test('fields the CRD does not define are noted: the API server pruned them, so CES never saw them', () => {
    const text = [
      doc('ExternalService', 'api', 'shop', { addresses: ['192.0.2.9'] }),
      doc('NamespaceEgressRule', 'to-api', 'shop', { action: 'drop', priority: 1, externalServices: ['api'] }),
    ].join('---\n');
    const { plan, module } = importCes(text, 'x.yaml');
    expect(plan.notes.map((n) => `${n.field}: ${n.why}`)).toContain(
      'spec.priority: is not a field of the CES CRD; the API server prunes it, so CES never saw it',
    );
    expect(module).toContain(`priority: 100,`);
  });

  test('a rule with no ExternalServices makes nothing, in CES and here', () => {
    const { plan } = importCes(doc('ClusterEgressRule', 'empty', undefined, { action: 'drop', externalServices: [] }), 'x.yaml');
    expect(plan.rules).toEqual([]);
    expect(plan.notes.map((n) => n.why)).toEqual(['is empty: CES makes no firewall rule of it, so there is nothing to import']);
  });

  test('an ExternalService whose ports cannot be carried over is not widened to every port: the rule loses it, loudly', () => {
    const text = [
      doc('ExternalService', 'odd', 'kube-system', { addresses: ['192.0.2.9'], ports: [{ protocol: 'QUIC', port: '443' }] }),
      doc('ClusterEgressRule', 'block-odd', undefined, { action: 'drop', externalServices: ['odd'] }),
    ].join('---\n');
    const { plan } = importCes(text, 'x.yaml');
    expect(plan.rules).toEqual([]);
    expect(plan.notCarried.map((n) => `${n.field}: ${n.why.split(';')[0]}`)).toEqual([
      'spec.ports[0]: "quic" is not an AFM protocol name, so AFM refused the rule CES made of it',
      'spec.externalServices[0]: none of the ports of ExternalService kube-system/odd can be carried over (see above), so the rule loses these destinations',
      'spec.externalServices: nothing of the rule can be carried over (see above), so it is left out',
    ]);
  });

  test('rules of one level that overlap with different outcomes are noted: CES left their order to chance', () => {
    const text = [
      doc('ExternalService', 'web', 'kube-system', {
        addresses: ['192.0.2.9', '192.0.2.10'],
        ports: [{ protocol: 'TCP', port: '80,443' }],
      }),
      doc('ExternalService', 'tls', 'kube-system', { addresses: ['192.0.2.10'], ports: [{ protocol: 'TCP', port: '443-444' }] }),
      doc('ClusterEgressRule', 'pass-web', undefined, { action: 'accept', externalServices: ['web'] }),
      doc('ClusterEgressRule', 'allow-tls', undefined, { action: 'accept-decisively', externalServices: ['tls'] }),
      doc('ClusterEgressRule', 'also-allow-tls', undefined, { action: 'accept-decisively', externalServices: ['tls'] }),
    ].join('---\n');
    const { plan } = importCes(text, 'x.yaml');
    expect(plan.notes.map((n) => `${n.resource}: ${n.why}`)).toEqual([
      'ClusterEgressRule pass-web: overlaps ClusterEgressRule allow-tls (accept-decisively), for example at 192.0.2.10:443/tcp: in CES whichever its controller wrote first decided; the import lets accept-decisively decide',
      'ClusterEgressRule pass-web: overlaps ClusterEgressRule also-allow-tls (accept-decisively), for example at 192.0.2.10:443/tcp: in CES whichever its controller wrote first decided; the import lets accept-decisively decide',
    ]);
  });

  test('problems found while mapping are reported with those found while reading, in file order', () => {
    const text = [
      doc('ClusterEgressRule', 'r', undefined, { action: 'drop', externalServices: ['nope'] }),
      doc('ExternalService', 'x', 'kube-system', { addresses: ['not an address'] }),
    ].join('---\n');
    expect(() => importCes(text, 'x.yaml')).toThrow(CesInputError);
    try {
      importCes(text, 'x.yaml');
    } catch (e) {
      expect((e as CesInputError).problems.map((p) => `${p.where} ${p.field}`)).toEqual([
        'x.yaml:1 spec.externalServices[0]',
        'x.yaml:7 spec.addresses[0]',
      ]);
    }
  });
});

describe('the generated code is safe from what the manifests say', () => {
  let dir: string;
  beforeAll(() => {
    dir = generatedDir();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('free text (port names, bandwidth values) reaches comments only, escaped so it cannot end them', () => {
    const hostile = "x */ globalThis.injected = true; /* \u2028 globalThis.injected = true; '`${1}";
    const text = [
      doc('ExternalService', 'api', 'kube-system', {
        addresses: ['192.0.2.9'],
        ports: [
          { name: hostile, protocol: 'TCP', port: '443', bandwidth: hostile },
          { name: hostile, protocol: hostile, port: '1' },
        ],
      }),
      doc('ClusterEgressRule', 'r', undefined, { action: 'accept-decisively', externalServices: ['api'] }),
    ].join('---\n');
    const library = libraryFrom(dir);
    const { module } = importCes(text, 'x */ y.yaml', { library });
    expect(module).not.toContain('\u2028');
    expect(
      module
        .split('\n')
        .filter((l) => l.includes('injected'))
        .every((l) => l.trimStart().startsWith('//')),
    ).toBe(true);
    const file = path.join(dir, 'hostile.ts');
    fs.writeFileSync(file, module);
    expect(typeErrors(file)).toEqual([]);
    migratedApp(loadGenerated(module, library), {}, Testing.app());
    expect((globalThis as Record<string, unknown>).injected).toBeUndefined();
  });
});
