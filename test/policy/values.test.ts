import { buildExternalService, buildRule } from '../../lib/policy/schema';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPort as P, EgressProtocol } from '../../lib/policy/port';
import { BandwidthUnit, DefaultAction, EgressAction, LabelSelectorOperator, SyslogTransport, Weekday } from '../../lib/policy/enums';
import { parseFqdn, fqdnMatches } from '../../lib/policy/fqdn';
import { parseAddressEntry, withRouteDomain } from '../../lib/policy/ip';
import { issuesOf } from '../support/issues';

const base = { level: 'namespace' as const, path: 'app/stack/Rule', name: 'r', namespace: 'payments', action: 'ALLOW' };

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
    const issues = issuesOf(() =>
      buildRule({ level: 'service', path: 'p', name: 'r', action: 'ALLOW', destinations: [D.anyIpv4()], podSelector: {} }),
    );
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

/** The single issue `fn` throws. */
function issueOf(fn: () => unknown) {
  const issues = issuesOf(fn);
  expect(issues).toHaveLength(1);
  return issues[0];
}

const anywhere = { ...base, destinations: [D.anyIpv4()] };
/** Casts through unknown: these are the call shapes plain JavaScript can produce. */
const js = (v: unknown) => v as any;

describe('every port is said explicitly', () => {
  test.each([
    ['EgressPort.tcp(undefined)', () => P.tcp(js(undefined)), 'EgressPort.allTcp()'],
    ['EgressPort.udp(undefined)', () => js(P).udp(), 'EgressPort.allUdp()'],
    ['EgressPort.sctp(undefined)', () => P.sctp(js(undefined)), 'EgressPort.protocol("sctp")'],
    ['EgressPort.tcpRange(undefined, undefined)', () => P.tcpRange(js(undefined), js(undefined)), 'EgressPort.allTcp()'],
    ['EgressPort.udpRange(undefined, undefined)', () => P.udpRange(js(undefined), js(undefined)), 'EgressPort.allUdp()'],
  ])('%s is refused, not read as every port', (call, make, explicit) => {
    const issue = issueOf(() => buildRule({ ...anywhere, ports: [make()] }));
    expect(issue).toEqual({
      path: 'app/stack/Rule',
      field: 'ports[0]',
      value: JSON.stringify(call),
      message: expect.stringContaining(
        `a missing port never means every port: give the port (the first and last port of a range), or for every`,
      ),
    });
    expect(issue.message).toContain(`write ${explicit}`);
  });

  test.each([
    [
      { protocol: 'tcp' },
      /fromPort is missing, and a missing port never means every port: give fromPort \(and toPort for a range\), or for every tcp port write EgressPort.allTcp\(\)/,
    ],
    [{ protocol: 'udp', fromPort: undefined }, /fromPort is missing.*EgressPort.allUdp\(\)/],
    [{ protocol: 'tcp', fromPort: undefined, toPort: 80 }, /toPort is given without fromPort: give fromPort too/],
    [{ protocol: 'tcp', port: 443 }, /port: is not a prop of EgressPortProps: write fromPort \(and toPort for a range\)/],
    [
      { protocol: 'tcp', fromport: 443 },
      /fromport: is not a prop of EgressPortProps, and an unknown prop is never ignored: did you mean "fromPort"\?/,
    ],
    [null, /expected an EgressPortProps object \(\{ protocol, fromPort\?, toPort\? \}\)/],
    [
      undefined,
      /^EgressPort\.of\(\) needs an EgressPortProps object: pass one, such as EgressPort\.of\(\{ protocol: "udplite", fromPort: 5000 \}\)$/,
    ],
    [[], /not an array/],
  ])('EgressPort.of(%p) is refused', (props, message) => {
    const issue = issueOf(() => buildRule({ ...anywhere, ports: [P.of(js(props))] }));
    expect(issue.field).toBe('ports[0]');
    expect(issue.value).toMatch(/^"EgressPort\.of\(/);
    expect(issue.message).toMatch(message);
  });

  test.each([
    [P.sctp(NaN), '"sctp/NaN"', 'port NaN is out of range: use a whole number from 1 to 65535'],
    [P.tcp(js('443')), '"EgressPort.tcp(\\"443\\")"', 'port "443" is not a number: pass the number 443, not a string'],
    [
      P.tcpRange(1, js(undefined)),
      '"EgressPort.tcpRange(1, undefined)"',
      'a port range needs two port numbers, the first and the last port: give both, or for the one port 1 write EgressPort.tcp(1)',
    ],
    [
      js(P).sctpRange(7),
      '"EgressPort.sctpRange(7, undefined)"',
      'a port range needs two port numbers, the first and the last port: give both, or for the one port 7 write EgressPort.sctp(7)',
    ],
    [P.tcp(Infinity), '"tcp/Infinity"', 'port Infinity is out of range: use a whole number from 1 to 65535'],
    [
      P.protocol(js(null)),
      '"EgressPort.protocol(null)"',
      expect.stringMatching(/^the protocol must be a string, not null: use a lower-case AFM protocol name/),
    ],
  ])('refuses port %s', (port, value, message) => {
    expect(issueOf(() => buildRule({ ...anywhere, ports: [port] }))).toEqual({ path: 'app/stack/Rule', field: 'ports[0]', value, message });
  });

  test('the explicit forms of every port are accepted', () => {
    const rule = buildRule({
      ...anywhere,
      ports: [P.allTcp(), P.allUdp(), P.protocol('gre'), P.protocol('sctp'), P.of({ protocol: 'esp' })],
    });
    expect(rule.ports).toEqual([{ protocol: 'tcp' }, { protocol: 'udp' }, { protocol: 'gre' }, { protocol: 'sctp' }, { protocol: 'esp' }]);
    expect(buildRule({ ...anywhere, ports: [P.allTraffic()] }).ports).toEqual([{ protocol: 'any' }]);
    expect(buildRule(anywhere).ports).toEqual([]);
  });

  test('an empty port list is refused, like an empty destination list', () => {
    expect(issueOf(() => buildRule({ ...anywhere, ports: [] }))).toEqual({
      path: 'app/stack/Rule',
      field: 'ports',
      value: '[]',
      message: 'an empty port list is never read as every port; leave ports out or use EgressPort.allTraffic() for every protocol and port',
    });
  });

  test('a port that is not an EgressPort is refused on its index', () => {
    const issues = issuesOf(() => buildRule({ ...anywhere, ports: [P.HTTPS, null, { protocol: 'tcp', fromPort: 443 }, 443] }));
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      ['ports[1]', 'null', 'expected an EgressPort made with its static factories, such as EgressPort.HTTPS'],
      ['ports[2]', '{"protocol":"tcp","fromPort":443}', 'expected an EgressPort made with its static factories, such as EgressPort.HTTPS'],
      ['ports[3]', '443', 'expected an EgressPort made with its static factories, such as EgressPort.HTTPS'],
    ]);
  });
});

describe('shared values cannot be changed', () => {
  test('port constants, their classes and prototypes are frozen', () => {
    for (const port of [P.HTTPS, P.HTTP, P.DNS_UDP, P.DNS_TCP, P.NTP, P.SSH, P.SMTP, P.SMTP_SUBMISSION, P.LDAPS, P.POSTGRES, P.MYSQL]) {
      expect(Object.isFrozen(port)).toBe(true);
    }
    expect(() => {
      js(P.HTTPS).fromPort = 1;
    }).toThrow(TypeError);
    expect(() => {
      js(P).HTTPS = P.allTraffic();
    }).toThrow(TypeError);
    expect(() => {
      js(P.prototype)._toModel = () => ({ protocol: 'any' });
    }).toThrow(TypeError);
    expect(P.HTTPS._toModel()).toEqual({ protocol: 'tcp', fromPort: 443, toPort: 443 });
    expect(String(P.HTTPS)).toBe('tcp/443');
  });

  test('what a port or destination holds is frozen too', () => {
    for (const value of [P.of({ protocol: 'tcp', fromPort: 1 }), D.address('192.0.2.1'), D.externalService({ serviceName: 'bank' })]) {
      for (const key of Reflect.ownKeys(value)) {
        const held = (value as unknown as Record<PropertyKey, unknown>)[key];
        if (typeof held === 'object' && held !== null && !('serviceName' in held)) expect(Object.isFrozen(held)).toBe(true);
      }
      expect(Object.isFrozen(value)).toBe(true);
    }
    const props = { protocol: 'tcp', fromPort: 443 };
    const port = P.of(props);
    props.fromPort = 1;
    expect(port._toModel()).toEqual({ protocol: 'tcp', fromPort: 443, toPort: 443 });
  });

  test('enum objects are frozen', () => {
    expect(() => {
      js(EgressAction).ALLOW = 'DENY';
    }).toThrow(TypeError);
    expect(EgressAction.ALLOW).toBe('ALLOW');
    for (const e of [EgressAction, DefaultAction, LabelSelectorOperator, Weekday, BandwidthUnit, SyslogTransport, EgressProtocol]) {
      expect(Object.isFrozen(e)).toBe(true);
    }
  });
});

describe('destinations from any call shape', () => {
  test.each([
    [
      'EgressDestination.address(null)',
      () => D.address(js(null)),
      'null',
      'EgressDestination.address() needs a string such as "192.0.2.10" or "2001:db8::10"',
    ],
    [
      'EgressDestination.address(undefined)',
      () => D.address(js(undefined)),
      'nothing',
      'EgressDestination.address() needs a string such as "192.0.2.10" or "2001:db8::10"',
    ],
    [
      'EgressDestination.cidr(10)',
      () => D.cidr(js(10)),
      '10',
      'EgressDestination.cidr() needs a string such as "198.51.100.0/24" or "2001:db8::/32"',
    ],
    [
      'EgressDestination.range("10.0.0.1")',
      () => D.range('10.0.0.1', js(undefined)),
      'nothing',
      'EgressDestination.range() needs a string such as "10.0.0.1" and "10.0.0.9"',
    ],
    ['EgressDestination.fqdn({})', () => D.fqdn(js({})), '{}', 'EgressDestination.fqdn() needs a string such as "api.example.com"'],
    [
      'EgressDestination.externalService(undefined)',
      () => D.externalService(js(undefined)),
      'nothing',
      'EgressDestination.externalService() needs an ExternalService construct (created with new ExternalService(...))',
    ],
    [
      'EgressDestination.externalService({})',
      () => D.externalService(js({})),
      '{}',
      'EgressDestination.externalService() needs an ExternalService construct (created with new ExternalService(...))',
    ],
    [
      'EgressDestination.externalService("bank")',
      () => D.externalService(js('bank')),
      '"bank"',
      'EgressDestination.externalService() needs an ExternalService construct (created with new ExternalService(...))',
    ],
  ])('%s is a named error', (_call, make, value, message) => {
    const dest = make();
    expect(() => String(dest)).not.toThrow();
    expect(issueOf(() => buildRule({ ...base, destinations: [dest] }))).toEqual({
      path: 'app/stack/Rule',
      field: 'destinations[0]',
      value,
      message,
    });
  });

  test('null, plain objects and strings in destinations are refused on their index', () => {
    const issues = issuesOf(() =>
      buildRule({ ...base, destinations: [D.anyIpv4(), null, undefined, { kind: 'address', value: '192.0.2.1' }, '192.0.2.1'] }),
    );
    expect(issues.map((i) => [i.field, i.value])).toEqual([
      ['destinations[1]', 'null'],
      ['destinations[2]', 'nothing'],
      ['destinations[3]', '{"kind":"address","value":"192.0.2.1"}'],
      ['destinations[4]', '"192.0.2.1"'],
    ]);
    for (const issue of issues)
      expect(issue.message).toBe(
        'expected an EgressDestination made with its static factories, such as EgressDestination.cidr("10.0.0.0/8")',
      );
  });

  test.each([
    [undefined, 'nothing', 'is required: at least one EgressDestination; use EgressDestination.anyIpv4() to mean everywhere'],
    [null, 'null', 'expected an array of EgressDestination, such as [EgressDestination.cidr("10.0.0.0/8")]'],
    [D.anyIpv4(), '"0.0.0.0/0"', 'expected an array of EgressDestination; wrap the single value in [ ]'],
  ])('destinations: %p is refused', (destinations, value, message) => {
    expect(issueOf(() => buildRule({ ...base, destinations }))).toEqual({ path: 'app/stack/Rule', field: 'destinations', value, message });
  });

  test.each([
    ['999.999.999.999', /not a valid IPv4 or IPv6 address/],
    ['256.0.0.1', /not a valid IPv4 or IPv6 address/],
    ['1.2.3', /not a valid IPv4 or IPv6 address/],
    ['01.2.3.4', /not a valid IPv4 or IPv6 address/],
    ['0x7f.0.0.1', /not a valid IPv4 or IPv6 address/],
    [' 192.0.2.1', /not a valid IPv4 or IPv6 address/],
    ['fe80::1%eth0', /must not carry a zone or route-domain suffix/],
    ['2001:db8::%1', /must not carry a zone or route-domain suffix/],
  ])('refuses the impossible or ambiguous address %p', (address, message) => {
    const issue = issueOf(() => buildRule({ ...base, destinations: [D.address(address)] }));
    expect(issue).toMatchObject({ field: 'destinations[0]', value: JSON.stringify(address) });
    expect(issue.message).toMatch(message);
  });

  test.each([
    ['10.0.0.0/08', /prefix length must be a whole number from 0 to 32, without leading zeros/],
    ['10.0.0.0/008', /without leading zeros/],
    ['fe80::%eth0/64', /does not start with a valid IPv4 or IPv6 address/],
    ['999.0.0.0/8', /does not start with a valid IPv4 or IPv6 address/],
  ])('refuses the CIDR %p', (cidr, message) => {
    expect(issueOf(() => buildRule({ ...base, destinations: [D.cidr(cidr)] })).message).toMatch(message);
  });

  test('a range with an impossible end names it', () => {
    expect(issueOf(() => buildRule({ ...base, destinations: [D.range('10.0.0.1', '10.0.0.300')] }))).toMatchObject({
      field: 'destinations[0]',
      value: '"10.0.0.300"',
    });
  });
});

describe('rule values from any call shape', () => {
  test.each(['false', 'no', 'true', 1, 0, null, {}])('logging and audit refuse %p', (flag) => {
    const issues = issuesOf(() => buildRule({ ...anywhere, logging: flag, audit: flag }));
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      ['logging', JSON.stringify(flag), 'expected true or false (a boolean, not a string or number)'],
      ['audit', JSON.stringify(flag), 'expected true or false (a boolean, not a string or number)'],
    ]);
  });

  test('numbers where strings go, and null for any prop, are named errors', () => {
    const issues = issuesOf(() =>
      buildRule({
        level: 'namespace',
        path: 'app/stack/Rule',
        name: 5,
        namespace: null,
        action: null,
        priority: '5',
        destinations: [D.anyIpv4()],
        description: 7,
        owner: null,
        schedule: null,
        bandwidthLimit: null,
        podSelector: null,
        expiresAt: 20270101,
      }),
    );
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      ['name', '5', 'expected the rule name: a DNS label string such as "allow-dns"'],
      ['action', 'null', 'must be one of EgressAction.DENY, REJECT, ALLOW or ALLOW_FINAL'],
      ['priority', '"5"', 'must be a whole number from 0 to 1000'],
      ['description', '7', 'expected a string of at most 64 characters'],
      ['bandwidthLimit', 'null', 'expected an EgressBandwidthLimit ({ maxBandwidth, unit? })'],
      ['schedule', 'null', 'expected an EgressSchedule ({ startTime, endTime, daysOfWeek?, timeZone? })'],
      ['expiresAt', '20270101', 'expected a string: must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"'],
      ['owner', 'null', 'expected a string of at most 64 characters'],
      ['namespace', 'null', 'expected the namespace whose pods the rule applies to: a DNS label string such as "payments"'],
      ['podSelector', 'null', 'expected a LabelSelector ({ matchLabels?, matchExpressions? })'],
    ]);
  });

  test('missing required props say what is required', () => {
    const issues = issuesOf(() => buildRule(js({ level: 'service', path: 'p' })));
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      ['action', 'nothing', 'is required: one of EgressAction.DENY, REJECT, ALLOW or ALLOW_FINAL'],
      ['destinations', 'nothing', 'is required: at least one EgressDestination; use EgressDestination.anyIpv4() to mean everywhere'],
      ['namespace', 'nothing', 'is required: the namespace of the Service, a DNS label such as "payments"'],
      ['service', 'nothing', 'is required: the Service whose pods the rule applies to, a DNS label such as "checkout"'],
      ['name', 'nothing', 'is required: the name of the rule, a DNS label'],
    ]);
  });

  test.each([
    ['2099-02-30T00:00:00Z', '2099-02 has no day 30: use a day from 01 to 28'],
    ['2027-02-29T00:00:00Z', '2027-02 has no day 29: use a day from 01 to 28'],
    ['2100-02-29T00:00:00Z', '2100-02 has no day 29: use a day from 01 to 28'],
    ['2027-04-31T00:00:00Z', '2027-04 has no day 31: use a day from 01 to 30'],
    ['2027-01-00T00:00:00Z', '2027-01 has no day 00: use a day from 01 to 31'],
    ['2027-13-01T00:00:00Z', 'there is no month 13: must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"'],
    ['2027-00-01T00:00:00Z', 'there is no month 00: must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"'],
    ['2027-01-01T25:00:00Z', 'there is no hour 25: use 00 to 23 (write midnight at the end of a day as 00:00 of the next day)'],
    ['2027-01-01T24:00:00Z', 'there is no hour 24: use 00 to 23 (write midnight at the end of a day as 00:00 of the next day)'],
    ['2027-01-01T12:60:00Z', 'there is no minute 60: use 00 to 59'],
    ['2027-01-01T12:00:60Z', 'there is no second 60: use 00 to 59'],
    ['2027-01-01T12:00:00+24:00', 'the zone offset is not a time offset: use Z or +HH:MM, such as +01:00'],
    ['2027-01-01T12:00:00', 'must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"'],
    ['2027-01-01', 'must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"'],
  ])('expiresAt %p is refused', (expiresAt, message) => {
    expect(issueOf(() => buildRule({ ...anywhere, expiresAt }))).toEqual({
      path: 'app/stack/Rule',
      field: 'expiresAt',
      value: JSON.stringify(expiresAt),
      message,
    });
  });

  test.each(['2028-02-29T00:00:00Z', '2000-02-29T23:59:59.999Z', '2099-12-31T23:59:59+14:00', '2030-06-30T00:00-05:30'])(
    'expiresAt %p is a real instant and is kept as written',
    (expiresAt) => {
      expect(buildRule({ ...anywhere, expiresAt }).expiresAt).toBe(expiresAt);
    },
  );
});

describe('strict props structs', () => {
  test.each([
    [
      'cluster',
      { namespace: 'payments' },
      'namespace',
      '"payments"',
      'is not a prop of a ClusterEgressRule: a cluster rule applies to every namespace; use a NamespaceEgressRule for one namespace, or namespaceSelector to narrow this rule',
    ],
    [
      'cluster',
      { service: 'checkout' },
      'service',
      '"checkout"',
      'is not a prop of a ClusterEgressRule: a cluster rule applies to every namespace; use a ServiceEgressRule for the pods of one Service',
    ],
    [
      'namespace',
      { namespace: 'web', service: 'checkout' },
      'service',
      '"checkout"',
      'is not a prop of a NamespaceEgressRule: a namespace rule applies to its namespace; use a ServiceEgressRule for the pods of one Service, or podSelector to narrow this rule',
    ],
    [
      'namespace',
      { namespace: 'web', namespaceSelector: {} },
      'namespaceSelector',
      '{}',
      'is not a prop of a NamespaceEgressRule: only cluster rules select namespaces; this rule applies to its own namespace',
    ],
    [
      'service',
      { namespace: 'web', service: 's', podSelector: { matchLabels: { app: 'x' } } },
      'podSelector',
      '{"matchLabels":{"app":"x"}}',
      "is not a prop of a ServiceEgressRule: a service rule's pods are those its Service selects; use a NamespaceEgressRule with podSelector instead",
    ],
    [
      'service',
      { namespace: 'web', service: 's', namespaceSelector: {} },
      'namespaceSelector',
      '{}',
      'is not a prop of a ServiceEgressRule: only cluster rules select namespaces; this rule applies to its own namespace',
    ],
    [
      'namespace',
      { namespace: 'web', podSelecter: { matchLabels: { app: 'x' } } },
      'podSelecter',
      '{"matchLabels":{"app":"x"}}',
      'is not a prop of a NamespaceEgressRule, and an unknown prop is never ignored: did you mean "podSelector"?',
    ],
    [
      'cluster',
      { NamespaceSelector: {} },
      'NamespaceSelector',
      '{}',
      'is not a prop of a ClusterEgressRule, and an unknown prop is never ignored: did you mean "namespaceSelector"?',
    ],
    [
      'cluster',
      { logs: true },
      'logs',
      'true',
      expect.stringMatching(
        /^is not a prop of a ClusterEgressRule, and an unknown prop is never ignored: remove it; the props of a ClusterEgressRule are device, name, action/,
      ),
    ],
    [
      'namespace',
      { namespace: 'web', namespace_: undefined },
      'namespace_',
      'nothing',
      'is not a prop of a NamespaceEgressRule, and an unknown prop is never ignored: did you mean "namespace"?',
    ],
  ])('a %s rule refuses %p', (level, extra, field, value, message) => {
    expect(
      issueOf(() => buildRule(js({ level, path: 'app/stack/Rule', name: 'r', action: 'ALLOW', destinations: [D.anyIpv4()], ...extra }))),
    ).toEqual({
      path: 'app/stack/Rule',
      field,
      value,
      message,
    });
  });

  test.each([
    [
      { podSelector: { app: 'web' } },
      'podSelector.app',
      'is not a prop of a LabelSelector, and an unknown prop is never ignored: labels go inside matchLabels, such as { matchLabels: { app: "web" } }',
    ],
    [
      { podSelector: { matchLabel: { app: 'web' } } },
      'podSelector.matchLabel',
      'is not a prop of a LabelSelector, and an unknown prop is never ignored: did you mean "matchLabels"?',
    ],
    [
      { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', value: ['x'] }] } },
      'podSelector.matchExpressions[0].value',
      'is not a prop of a LabelSelectorRequirement, and an unknown prop is never ignored: did you mean "values"?',
    ],
    [
      { schedule: { startTime: '08:00', endTime: '17:00', timezone: 'UTC' } },
      'schedule.timezone',
      'is not a prop of an EgressSchedule, and an unknown prop is never ignored: did you mean "timeZone"?',
    ],
    [
      { bandwidthLimit: { maxBandwidth: 5, units: 'Mbps' } },
      'bandwidthLimit.units',
      'is not a prop of an EgressBandwidthLimit, and an unknown prop is never ignored: did you mean "unit"?',
    ],
  ])('nested structs are strict: %p', (extra, field, message) => {
    const issue = issueOf(() => buildRule(js({ ...anywhere, ...extra })));
    expect(issue).toMatchObject({ path: 'app/stack/Rule', field, message });
  });

  test('label keys that are Object.prototype names are kept; __proto__ is refused, never dropped', () => {
    const matchLabels = JSON.parse('{"constructor":"a","toString":"b","hasOwnProperty":"c"}');
    const rule = buildRule({ ...anywhere, podSelector: { matchLabels } });
    expect(rule.source.podSelector?.matchLabels).toEqual({ constructor: 'a', hasOwnProperty: 'c', toString: 'b' });
    expect(Object.keys(rule.source.podSelector!.matchLabels)).toEqual(['constructor', 'hasOwnProperty', 'toString']);

    const proto = JSON.parse('{"app":"web","__proto__":{"x":"1"}}');
    expect(issueOf(() => buildRule({ ...anywhere, podSelector: { matchLabels: proto } }))).toEqual({
      path: 'app/stack/Rule',
      field: 'podSelector.matchLabels.__proto__',
      value: '{"x":"1"}',
      message: '"__proto__" is not a label key (a label name starts with a letter or digit); remove it',
    });
  });

  test('an own __proto__ prop is refused, and an inherited prop is not read', () => {
    const props = JSON.parse('{"level":"cluster","path":"app/stack/Rule","name":"r","action":"ALLOW","__proto__":{"namespace":"web"}}');
    const issue = issueOf(() => buildRule({ ...props, destinations: [D.anyIpv4()] }));
    expect(issue).toMatchObject({ field: '__proto__', value: '{"namespace":"web"}' });
    expect(issue.message).toMatch(/^is not a prop of a ClusterEgressRule, and an unknown prop is never ignored/);
  });

  test('symbol keys, throwing getters and objects that are not literals are named errors', () => {
    const tag = Symbol('tag');
    const props = js({ ...anywhere, [tag]: 'x', schedule: new Date(0), bandwidthLimit: [], podSelector: new Map() });
    Object.defineProperty(props, 'description', {
      enumerable: true,
      configurable: true,
      get() {
        throw new Error('no description');
      },
    });
    const issues = issuesOf(() => buildRule(props));
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      ['description', 'a getter', 'reading it threw Error: no description; pass a plain value'],
      ['Symbol(tag)', 'Symbol(tag)', 'a symbol key is not a prop; remove it'],
    ]);
    delete props.description;
    delete props[tag];
    expect(issuesOf(() => buildRule(props)).map((i) => [i.field, i.message])).toEqual([
      ['bandwidthLimit', 'expected an EgressBandwidthLimit ({ maxBandwidth, unit? }), not an array'],
      [
        'schedule',
        'expected an EgressSchedule ({ startTime, endTime, daysOfWeek?, timeZone? }) written as an object literal, not a Date object',
      ],
      ['podSelector', 'expected a LabelSelector ({ matchLabels?, matchExpressions? }) written as an object literal, not a Map object'],
    ]);
  });

  test('a non-enumerable prop is checked like any other', () => {
    const props = js({ ...base, level: 'cluster', destinations: [D.anyIpv4()] });
    Object.defineProperty(props, 'namespace', { value: 'web', enumerable: false });
    expect(issueOf(() => buildRule(props))).toMatchObject({ field: 'namespace', value: '"web"' });
  });
});
