import { buildExternalService, buildRule } from '../../lib/policy/schema';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPort as P } from '../../lib/policy/port';
import { EgressPolicyError } from '../../lib/policy/errors';
import { parseFqdn, fqdnMatches } from '../../lib/policy/fqdn';
import { parseAddressEntry, withRouteDomain } from '../../lib/policy/ip';

const base = { level: 'namespace' as const, path: 'app/stack/Rule', name: 'r', namespace: 'payments', action: 'ALLOW' };

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (e instanceof EgressPolicyError) return e.issues;
    throw e;
  }
  throw new Error('expected an EgressPolicyError');
}

describe('destinations', () => {
  test.each([
    ['an IPv4 address', D.address('192.0.2.10'), { kind: 'address', text: '192.0.2.10', family: 4 }],
    ['an IPv6 address in canonical form', D.address('2001:DB8:0:0::10'), { kind: 'address', text: '2001:db8::10', family: 6 }],
    ['a CIDR', D.cidr('198.51.100.0/24'), { kind: 'cidr', text: '198.51.100.0/24', family: 4 }],
    ['an IPv6 CIDR', D.cidr('2001:db8::/32'), { kind: 'cidr', text: '2001:db8::/32', family: 6 }],
    ['a range', D.range('10.0.0.1', '10.0.0.9'), { kind: 'range', text: '10.0.0.1-10.0.0.9', family: 4 }],
    ['an exact FQDN', D.fqdn('api.stripe.com'), { kind: 'fqdn', text: 'api.stripe.com', wildcard: false }],
    ['a wildcard below a registrable domain', D.fqdn('*.example.co.uk'), { kind: 'fqdn', text: '*.example.co.uk', wildcard: true }],
    ['everything IPv4', D.anyIpv4(), { kind: 'cidr', text: '0.0.0.0/0', family: 4 }],
  ])('accepts %s', (_what, dest, model) => {
    expect(dest._toModel()).toEqual(model);
  });

  test.each([
    ['1.2.3', /not a valid IPv4 or IPv6 address/],
    ['010.0.0.1', /not a valid IPv4 or IPv6 address/],
    ['10.0.0.1%2', /route-domain suffix/],
    ['300.1.1.1', /not a valid/],
  ])('refuses address %s', (value, message) => {
    const [issue] = issuesOf(() => buildRule({ ...base, destinations: [D.address(value)] }));
    expect(issue).toMatchObject({ path: 'app/stack/Rule', field: 'destinations[0]', value: JSON.stringify(value) });
    expect(issue.message).toMatch(message);
  });

  test.each([
    ['10.0.0.1/8', /host bits are set after the \/8 prefix. Did you mean "10.0.0.0\/8"\?/],
    ['10.0.0.0', /needs a prefix length.*Did you mean "10.0.0.0\/32"/],
    ['10.0.0.0/33', /prefix length must be a whole number from 0 to 32/],
    ['2001:db8::1/32', /Did you mean "2001:db8::\/32"/],
  ])('refuses CIDR %s and suggests the fix', (value, message) => {
    const [issue] = issuesOf(() => buildRule({ ...base, destinations: [D.cidr(value)] }));
    expect(issue.field).toBe('destinations[0]');
    expect(issue.message).toMatch(message);
  });

  test('refuses a reversed range and a mixed-family range', () => {
    const issues = issuesOf(() => buildRule({ ...base, destinations: [D.range('10.0.0.9', '10.0.0.1'), D.range('10.0.0.1', '::1')] }));
    expect(issues.map((i) => i.message)).toEqual([
      'the range is reversed. Did you mean "10.0.0.1-10.0.0.9"?',
      'both ends of a range must be of the same family (IPv4 or IPv6)',
    ]);
  });

  test.each(['*.com', '*.co.uk', '*.github.io', '*.internal'])('refuses the wildcard %s over a public suffix', (value) => {
    const [issue] = issuesOf(() => buildRule({ ...base, destinations: [D.fqdn(value)] }));
    expect(issue.value).toBe(JSON.stringify(value));
    expect(issue.message).toMatch(/covers the public suffix .* name a domain you control/);
  });

  test.each([
    ['API.Stripe.com', /write "api.stripe.com"/],
    ['api.stripe.com.', /trailing dot/],
    ['*.*.example.com', /single leading/],
    ['bücher.example', /punycode/],
    ['localhost', /at least two labels/],
    ['-bad.example.com', /not a DNS label/],
  ])('refuses the DNS name %s', (value, message) => {
    const [issue] = issuesOf(() => buildRule({ ...base, destinations: [D.fqdn(value)] }));
    expect(issue.message).toMatch(message);
  });

  test('a rule without destinations names the field and the fix', () => {
    const [issue] = issuesOf(() => buildRule({ ...base, destinations: [] }));
    expect(issue).toMatchObject({ field: 'destinations', value: '[]' });
    expect(issue.message).toMatch(/at least one destination; use EgressDestination.anyIpv4\(\)/);
  });

  test('one-label wildcards match exactly one label', () => {
    const w = parseFqdn('*.example.com');
    expect(fqdnMatches(w, 'a.example.com')).toBe(true);
    expect(fqdnMatches(w, 'a.b.example.com')).toBe(false);
    expect(fqdnMatches(w, 'example.com')).toBe(false);
    expect(fqdnMatches(parseFqdn('api.example.com'), 'api.example.com')).toBe(true);
  });

  test('route-domain suffixes follow AFM syntax', () => {
    expect(withRouteDomain('10.0.0.0/8', 2)).toBe('10.0.0.0%2/8');
    expect(withRouteDomain('10.0.0.1', 2)).toBe('10.0.0.1%2');
    expect(withRouteDomain('10.0.0.1-10.0.0.9', 2)).toBe('10.0.0.1%2-10.0.0.9%2');
    expect(withRouteDomain('10.0.0.1', 0)).toBe('10.0.0.1');
    expect(parseAddressEntry('10.0.0.1-10.0.0.9').kind).toBe('range');
  });
});

describe('ports and protocols', () => {
  test('factories and constants render as AFM expects', () => {
    expect(P.HTTPS._toModel()).toEqual({ protocol: 'tcp', fromPort: 443, toPort: 443 });
    expect(P.udpRange(8000, 8100)._toModel()).toEqual({ protocol: 'udp', fromPort: 8000, toPort: 8100 });
    expect(P.icmpv6()._toModel()).toEqual({ protocol: 'ipv6-icmp' });
    expect(P.protocol('gre')._toModel()).toEqual({ protocol: 'gre' });
    expect(P.of({ protocol: 'sctp', fromPort: 38412 })._toModel()).toEqual({ protocol: 'sctp', fromPort: 38412, toPort: 38412 });
    expect(P.tcpRange(1, 2).toString()).toBe('tcp/1-2');
  });

  test.each([
    [P.tcp(0), /port 0 is out of range: use a whole number from 1 to 65535/],
    [P.udp(65536), /port 65536 is out of range/],
    [P.tcp(1.5), /port 1.5 is out of range/],
    [P.tcpRange(90, 80), /the port range is reversed; write tcp\/80-90/],
    [P.of({ protocol: 'TCP', fromPort: 1 }), /AFM protocol names are lower case; write "tcp"/],
    [P.protocol('quic'), /unknown protocol "quic"/],
    [P.of({ protocol: 'icmp', fromPort: 8 }), /protocol "icmp" has no ports/],
  ])('refuses %s', (port, message) => {
    const [issue] = issuesOf(() => buildRule({ ...base, destinations: [D.anyIpv4()], ports: [port] }));
    expect(issue.field).toBe('ports[0]');
    expect(issue.message).toMatch(message);
  });
});

describe('rule fields', () => {
  test('reports every bad field at once, each with path, field, value and fix', () => {
    const issues = issuesOf(() =>
      buildRule({ ...base, name: 'Bad_Name', action: 'PERMIT', priority: 1001, description: 'has "quotes"', destinations: [D.anyIpv4()] }),
    );
    expect(issues.map((i) => [i.path, i.field, i.value])).toEqual([
      ['app/stack/Rule', 'name', '"Bad_Name"'],
      ['app/stack/Rule', 'action', '"PERMIT"'],
      ['app/stack/Rule', 'priority', '1001'],
      ['app/stack/Rule', 'description', '"has \\"quotes\\""'],
    ]);
    expect(issues[1].message).toBe('must be one of EgressAction.DENY, REJECT, ALLOW or ALLOW_FINAL');
    expect(issues[2].message).toMatch(/out of range: use a whole number from 0 \(evaluated first\) to 1000/);
    expect(issues[3].message).toMatch(/reaches AS3, tmsh and iRules/);
  });

  test.each([
    ['a newline', 'line1\nline2'],
    ['a backslash', 'a\\b'],
    ['a tmsh quote', "it's"],
    ['an iRule bracket', '[exec]'],
    ['a Terraform interpolation', '${var.x}'],
  ])('refuses free text with %s', (_what, description) => {
    const [issue] = issuesOf(() => buildRule({ ...base, description, destinations: [D.anyIpv4()] }));
    expect(issue.field).toBe('description');
  });

  test('refuses a description longer than an AS3 remark', () => {
    const [issue] = issuesOf(() => buildRule({ ...base, description: 'x'.repeat(65), destinations: [D.anyIpv4()] }));
    expect(issue.message).toMatch(/at most 64 characters so it fits an AS3 remark \(it has 65\)/);
  });

  test('refuses selectors a service rule cannot have, and requires namespace and service', () => {
    const issues = issuesOf(() => buildRule({ level: 'service', path: 'p', name: 'r', action: 'ALLOW', destinations: [D.anyIpv4()], podSelector: {} }));
    expect(issues.map((i) => i.field)).toEqual(['namespace', 'service', 'podSelector']);
  });

  test('validates label selectors', () => {
    const issues = issuesOf(() =>
      buildRule({
        ...base,
        destinations: [D.anyIpv4()],
        podSelector: { matchLabels: { 'bad key!': 'x' }, matchExpressions: [{ key: 'app', operator: 'In', values: [] }] },
      }),
    );
    expect(issues.map((i) => i.field)).toEqual(['podSelector.matchLabels.bad key!', 'podSelector.matchExpressions[0].values']);
  });

  test('normalizes and deduplicates destinations and ports', () => {
    const rule = buildRule({ ...base, destinations: [D.cidr('10.0.0.0/8'), D.cidr('10.0.0.0/8')], ports: [P.HTTPS, P.tcp(443)] });
    expect(rule.destinations).toHaveLength(1);
    expect(rule.ports).toEqual([{ protocol: 'tcp', fromPort: 443, toPort: 443 }]);
    expect(rule.priority).toBe(500);
  });

  test('an external service cannot nest another', () => {
    const issues = issuesOf(() => buildExternalService({ path: 'p', name: 'x', destinations: [D.externalService({ serviceName: 'y' })] }));
    expect(issues[0].message).toMatch(/cannot contain another one/);
  });
});
