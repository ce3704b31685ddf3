'use strict';
/**
 * The generator: for every prop of every construct, every hostile value (wrong types,
 * boolean-ish strings, malformed, injection, unicode, out-of-range, limits, impossible values),
 * with the outcome a careful reader of the construct's docs expects. Each case builds one
 * construct with the base props of its kind and the one hostile prop.
 */
const V = require('./values');
const O = require('./check-output');
const { show } = require('./harness');

const { judge, repeat } = V;
const HEX64 = 'a'.repeat(64);

/** `value` entries: [label, value-or-maker, expect?, category, extra?]. */
function entry(label, value, expect, category, extra = {}) {
  return { label, make: typeof value === 'function' && !extra.literalFunction ? value : () => value, expect, category, ...extra };
}

/** One case per (prop, value); explicit values replace generic ones with the same label. */
function propCases(add, { target, specs, base, build, verifyCommon }) {
  for (const spec of specs) {
    const values = new Map();
    if (!spec.noGeneric) {
      for (const w of V.WRONG_TYPES) {
        let expect;
        if (w.install) expect = 'reject';
        else if (w.label === 'undefined') expect = spec.optional ? 'accept' : 'reject';
        else expect = (spec.generic && spec.generic[w.label]) || spec.judge(w.make());
        const category =
          w.label === 'undefined' ? (expect === 'accept' ? 'legal' : 'call-shape') : expect === 'accept' ? 'legal' : 'wrong-type';
        values.set(w.label, { label: w.label, make: w.make, install: w.install, expect, category });
      }
    }
    if (spec.bool) for (const [label, v] of V.BOOLEANISH) values.set(label, entry(label, v, 'reject', 'boolean-ish'));
    for (const e of spec.values || []) {
      const v = Array.isArray(e) ? entry(e[0], e[1], e[2], e[3], e[4]) : e;
      if (v.expect === undefined) v.expect = spec.judge(v.make({ probe: true }));
      values.set(v.label, v);
    }
    for (const v of values.values()) {
      add({
        id: `${target}.${spec.prop}=${v.label}`,
        category: v.category || (v.expect === 'accept' ? 'legal' : 'malformed'),
        target,
        expect: v.expect,
        why: v.why || spec.why,
        field: spec.prop,
        alsoFields: [...(spec.alsoFields || []), ...(v.alsoFields || []), ...((spec.alsoFieldsFor || {})[v.label] || [])],
        build(ctx) {
          const props = base(ctx, spec);
          if (v.install) v.install(props, spec.prop);
          else {
            ctx.value = v.make(ctx);
            props[spec.prop] = ctx.value;
          }
          if (v.before) v.before(ctx, props);
          build(ctx, props, spec);
          if (v.after) v.after(ctx, props);
        },
        verify(out, ctx) {
          const problems = [];
          if (verifyCommon) problems.push(...verifyCommon(out, ctx, spec));
          if (spec.render && ctx.value !== undefined) problems.push(...spec.render(out, ctx.value, ctx));
          if (v.verify) problems.push(...v.verify(out, ctx));
          return problems;
        },
      });
    }
  }
}

/** One case per unknown, misspelled or misplaced key. */
function unknownKeyCases(add, { target, keys, base, build, category = 'unknown-key' }) {
  for (const [key, value, why] of keys) {
    add({
      id: `${target}.unknown-key=${JSON.stringify(key)}`,
      category,
      target,
      expect: 'reject',
      why: why || `the unknown prop ${JSON.stringify(key)} was dropped without a word`,
      field: key,
      build(ctx) {
        const props = base(ctx, {});
        props[key] = typeof value === 'function' ? value(ctx) : value;
        build(ctx, props, {});
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Value tables shared by several constructs

function destinationValues(L, { forRule }) {
  const D = L.EgressDestination;
  const P = L.EgressPort;
  // 63 + 1 + 63 + 1 + 63 + 1 + 52 + 1 + 8 = 253 characters, the DNS maximum.
  const fqdn253 = `${repeat('a', 63)}.${repeat('b', 63)}.${repeat('c', 63)}.${repeat('d', 52)}.example1`;
  const ok = (label, make, spec, category = 'legal') => entry(label, make, 'accept', category, { spec });
  const no = (label, make, category, why) => entry(label, make, 'reject', category, why ? { why } : {});
  const either = (label, make, spec, category) => entry(label, make, 'either', category, { spec });
  return [
    ok('address', () => [D.address('192.0.2.10')], [{ address: '192.0.2.10' }]),
    ok('ipv6-upper-case', () => [D.address('2001:DB8::1')], [{ address: '2001:db8::1' }], 'limits'),
    ok('ipv4-mapped-ipv6', () => [D.address('::ffff:192.0.2.1')], [{ address: '::ffff:192.0.2.1' }], 'limits'),
    ok('cidr-v6', () => [D.cidr('2001:db8::/32')], [{ cidr: '2001:db8::/32' }]),
    ok('range', () => [D.range('192.0.2.1', '192.0.2.9')], [{ range: ['192.0.2.1', '192.0.2.9'] }]),
    ok('single-address-range', () => [D.range('192.0.2.1', '192.0.2.1')], [{ range: ['192.0.2.1', '192.0.2.1'] }], 'limits'),
    ok('fqdn', () => [D.fqdn('api.example.com')], [{ fqdn: 'api.example.com' }]),
    ok('fqdn-253', () => [D.fqdn(fqdn253)], [{ fqdn: fqdn253 }], 'limits'),
    ok('fqdn-punycode', () => [D.fqdn('xn--80ak6aa92e.example')], [{ fqdn: 'xn--80ak6aa92e.example' }], 'unicode'),
    ok('fqdn-wildcard-below-suffix', () => [D.fqdn('*.example.co.uk')], [{ fqdn: '*.example.co.uk' }], 'limits'),
    ok('slash-0-v4', () => [D.anyIpv4()], [{ cidr: '0.0.0.0/0' }], 'limits'),
    ok('slash-0-v6', () => [D.anyIpv6()], [{ cidr: '::/0' }], 'limits'),
    ok('slash-32', () => [D.cidr('192.0.2.10/32')], [{ cidr: '192.0.2.10/32' }], 'limits'),
    ok('mixed-three', () => [D.address('192.0.2.10'), D.fqdn('api.example.com'), D.cidr('2001:db8::/48')], [
      { address: '192.0.2.10' },
      { fqdn: 'api.example.com' },
      { cidr: '2001:db8::/48' },
    ]),
    ok('frozen-array', () => V.deepFreeze([D.address('192.0.2.10')]), [{ address: '192.0.2.10' }], 'wrong-type'),
    either('duplicate-address', () => [D.address('192.0.2.10'), D.address('192.0.2.10')], [{ address: '192.0.2.10' }], 'duplicates'),
    either(
      'duplicate-after-canonical-form',
      () => [D.address('2001:db8::1'), D.address('2001:DB8:0::1')],
      [{ address: '2001:db8::1' }],
      'duplicates',
    ),
    no('empty-array', () => [], 'fail-open'),
    no('null-element', () => [null], 'wrong-type'),
    no('undefined-element', () => [undefined], 'wrong-type'),
    no('string-element', () => ['192.0.2.10'], 'wrong-type'),
    no('plain-object-element', () => [{ kind: 'cidr', value: '0.0.0.0/0' }], 'wrong-type'),
    no('port-element', () => [P.HTTPS], 'wrong-type'),
    no(
      'forged-value-object',
      () => [{ _toModel: () => ({ kind: 'cidr', text: '0.0.0.0/0', family: 4 }), toString: () => '0.0.0.0/0' }],
      'wrong-type',
    ),
    no('prototype-only-instance', () => [Object.create(D.prototype)], 'wrong-type'),
    no('address-null', () => [D.address(null)], 'wrong-type'),
    no('address-undefined', () => [D.address()], 'wrong-type'),
    no('address-number', () => [D.address(3221225994)], 'wrong-type'),
    no('address-999', () => [D.address('999.999.999.999')], 'impossible'),
    no('address-256', () => [D.address('256.1.1.1')], 'impossible'),
    no('address-three-parts', () => [D.address('1.2.3')], 'impossible'),
    no('address-leading-zero', () => [D.address('010.0.0.1')], 'malformed'),
    no('address-with-prefix', () => [D.address('192.0.2.10/32')], 'malformed'),
    no('address-zone', () => [D.address('fe80::1%eth0')], 'malformed'),
    no('address-route-domain', () => [D.address('192.0.2.10%2')], 'malformed'),
    no('address-space', () => [D.address(' 192.0.2.10')], 'malformed'),
    no('address-newline', () => [D.address('192.0.2.10\n')], 'injection'),
    no('address-fullwidth', () => [D.address('１９２.0.2.10')], 'unicode'),
    no('address-ipv6-invalid', () => [D.address('2001:db8::g')], 'impossible'),
    no('cidr-host-bits', () => [D.cidr('10.0.0.1/8')], 'malformed'),
    no('cidr-33', () => [D.cidr('10.0.0.0/33')], 'impossible'),
    no('cidr-129', () => [D.cidr('::/129')], 'impossible'),
    no('cidr-negative', () => [D.cidr('10.0.0.0/-1')], 'impossible'),
    no('cidr-no-prefix', () => [D.cidr('10.0.0.0')], 'malformed'),
    no('cidr-trailing-space', () => [D.cidr('10.0.0.0/8 ')], 'malformed'),
    no('cidr-999', () => [D.cidr('999.0.0.0/8')], 'impossible'),
    no('range-reversed', () => [D.range('192.0.2.9', '192.0.2.1')], 'malformed'),
    no('range-mixed-family', () => [D.range('192.0.2.1', '2001:db8::1')], 'malformed'),
    no('range-one-end', () => [D.range('192.0.2.1')], 'wrong-type'),
    no('range-no-ends', () => [D.range()], 'wrong-type'),
    no('range-cidr-end', () => [D.range('10.0.0.0/8', '10.0.0.9')], 'malformed'),
    no('fqdn-upper-case', () => [D.fqdn('API.example.com')], 'malformed'),
    no('fqdn-star-com', () => [D.fqdn('*.com')], 'malformed', 'a wildcard over a public suffix'),
    no('fqdn-star-github-io', () => [D.fqdn('*.github.io')], 'malformed'),
    no('fqdn-star-co-uk', () => [D.fqdn('*.co.uk')], 'malformed'),
    no('fqdn-star-alone', () => [D.fqdn('*')], 'malformed'),
    no('fqdn-inner-wildcard', () => [D.fqdn('a.*.example.com')], 'malformed'),
    no('fqdn-cyrillic', () => [D.fqdn('аpi.example.com')], 'unicode'),
    no('fqdn-kelvin-sign', () => [D.fqdn('\u212aey.example.com')], 'unicode'),
    no('fqdn-trailing-dot', () => [D.fqdn('api.example.com.')], 'malformed'),
    no('fqdn-single-label', () => [D.fqdn('localhost')], 'malformed'),
    no('fqdn-leading-dash', () => [D.fqdn('-a.example.com')], 'malformed'),
    no('fqdn-label-64', () => [D.fqdn(`${repeat('a', 64)}.example.com`)], 'limits'),
    no('fqdn-254', () => [D.fqdn(`x${fqdn253}`)], 'limits'),
    no('fqdn-ipv4', () => [D.fqdn('10.0.0.1')], 'malformed'),
    no('fqdn-interpolation', () => [D.fqdn('${var.x}.example.com')], 'injection'),
    no('fqdn-newline', () => [D.fqdn('api.example.com\n')], 'injection'),
    no('fqdn-empty', () => [D.fqdn('')], 'malformed'),
    no('fqdn-null', () => [D.fqdn(null)], 'wrong-type'),
    no('external-service-null', () => [D.externalService(null)], 'wrong-type'),
    no('external-service-undefined', () => [D.externalService()], 'wrong-type'),
    no('external-service-string', () => [D.externalService('bank')], 'wrong-type'),
    no('external-service-fake', () => [D.externalService({ serviceName: 'bank' })], 'wrong-type'),
    ...(forRule
      ? [
          no(
            'external-service-of-other-device',
            (ctx) => {
              // On a BIG-IP of its own: two AfmDevices of one BIG-IP are refused by themselves.
              const other = new L.AfmDevice(ctx.stack, 'Other', ctx.deviceProps({ clusterName: 'other', address: 'bigip2.example.net' }));
              return [
                D.externalService(
                  new L.ExternalService(ctx.stack, 'OtherBank', { device: other, destinations: [D.address('198.51.100.7')] }),
                ),
              ];
            },
            'semantics',
          ),
        ]
      : []),
  ];
}

function portValues(L) {
  const P = L.EgressPort;
  const D = L.EgressDestination;
  const ok = (label, make, ports, category = 'legal') => entry(label, make, 'accept', category, { ports });
  const no = (label, make, category, why) => entry(label, make, 'reject', category, why ? { why } : {});
  return [
    ok('https', () => [P.HTTPS], [{ protocol: 'tcp', port: 443 }]),
    ok('tcp-1', () => [P.tcp(1)], [{ protocol: 'tcp', port: 1 }], 'limits'),
    ok('tcp-65535', () => [P.tcp(65535)], [{ protocol: 'tcp', port: 65535 }], 'limits'),
    ok('tcp-full-range', () => [P.tcpRange(1, 65535)], [{ protocol: 'tcp', port: 1, endPort: 65535 }], 'limits'),
    ok('udp-range', () => [P.udpRange(1000, 2000)], [{ protocol: 'udp', port: 1000, endPort: 2000 }]),
    ok('sctp', () => [P.sctp(9)], [{ protocol: 'sctp', port: 9 }]),
    ok('icmp', () => [P.icmp()], [{ protocol: 'icmp' }]),
    ok('icmpv6', () => [P.icmpv6()], [{ protocol: 'ipv6-icmp' }]),
    ok('all-traffic', () => [P.allTraffic()], [{ protocol: 'any' }]),
    ok('all-tcp', () => [P.allTcp()], [{ protocol: 'tcp' }]),
    ok('all-udp', () => [P.allUdp()], [{ protocol: 'udp' }]),
    ok('protocol-gre', () => [P.protocol('gre')], [{ protocol: 'gre' }]),
    ok('protocol-a-slash-n', () => [P.protocol('a/n')], [{ protocol: 'a/n' }], 'limits'),
    ok('protocol-tp-plus-plus', () => [P.protocol('tp++')], [{ protocol: 'tp++' }], 'limits'),
    ok('protocol-tcp-explicit', () => [P.protocol('tcp')], [{ protocol: 'tcp' }]),
    ok('of-udplite-range', () => [P.of({ protocol: 'udplite', fromPort: 5, toPort: 6 })], [{ protocol: 'udplite', port: 5, endPort: 6 }]),
    ok('of-dccp-single', () => [P.of({ protocol: 'dccp', fromPort: 5 })], [{ protocol: 'dccp', port: 5 }]),
    ok('multi-protocol', () => [P.tcp(80), P.tcp(443), P.udp(53)], [
      { protocol: 'tcp', port: 80 },
      { protocol: 'tcp', port: 443 },
      { protocol: 'udp', port: 53 },
    ]),
    ok('frozen-array', () => V.deepFreeze([P.SSH]), [{ protocol: 'tcp', port: 22 }], 'wrong-type'),
    entry('of-tcp-without-ports', () => [P.of({ protocol: 'tcp' })], 'either', 'fail-open', { ports: [{ protocol: 'tcp' }] }),
    entry('duplicate-port', () => [P.HTTPS, P.tcp(443)], 'either', 'duplicates', { ports: [{ protocol: 'tcp', port: 443 }] }),
    no('empty-array', () => [], 'fail-open', 'ports: [] means every protocol and port'),
    no('tcp-no-argument', () => [P.tcp()], 'fail-open', 'EgressPort.tcp() means every TCP port'),
    no('tcp-undefined', () => [P.tcp(undefined)], 'fail-open', 'EgressPort.tcp(undefined) means every TCP port'),
    no('udp-no-argument', () => [P.udp()], 'fail-open', 'EgressPort.udp() means every UDP port'),
    no('sctp-no-argument', () => [P.sctp()], 'fail-open', 'EgressPort.sctp() means every SCTP port'),
    no('tcp-range-no-arguments', () => [P.tcpRange()], 'fail-open', 'EgressPort.tcpRange() means every TCP port'),
    no(
      'tcp-range-undefined-undefined',
      () => [P.tcpRange(undefined, undefined)],
      'fail-open',
      'tcpRange(undefined, undefined) means every TCP port',
    ),
    no('udp-range-no-arguments', () => [P.udpRange()], 'fail-open', 'EgressPort.udpRange() means every UDP port'),
    no('sctp-range-no-arguments', () => [P.sctpRange()], 'fail-open', 'EgressPort.sctpRange() means every SCTP port'),
    no('tcp-range-one-end', () => [P.tcpRange(80)], 'fail-open'),
    no('tcp-range-undefined-from', () => [P.tcpRange(undefined, 80)], 'fail-open'),
    no(
      'of-unknown-key-port',
      () => [P.of({ protocol: 'tcp', port: 443 })],
      'unknown-key',
      'EgressPort.of({ protocol: "tcp", port: 443 }) dropped "port" and means every TCP port',
    ),
    no(
      'of-unknown-key-extra',
      () => [P.of({ protocol: 'tcp', fromPort: 443, toPort: 443, note: 'x' })],
      'unknown-key',
      'the unknown key "note" of EgressPort.of was dropped',
    ),
    no(
      'of-own-proto-key',
      () => [P.of(JSON.parse('{"protocol":"tcp","__proto__":{"fromPort":443}}'))],
      'proto-key',
      'an own "__proto__" key was dropped and the port means every TCP port',
    ),
    no('of-to-port-only', () => [P.of({ protocol: 'tcp', toPort: 443 })], 'fail-open'),
    no('of-icmp-with-port', () => [P.of({ protocol: 'icmp', fromPort: 8 })], 'malformed'),
    no('of-null', () => [P.of(null)], 'wrong-type'),
    no('of-undefined', () => [P.of()], 'wrong-type'),
    no('of-string', () => [P.of('tcp/443')], 'wrong-type'),
    no('of-empty', () => [P.of({})], 'wrong-type'),
    no('of-string-port', () => [P.of({ protocol: 'tcp', fromPort: '443' })], 'wrong-type'),
    no('tcp-null', () => [P.tcp(null)], 'wrong-type'),
    no('tcp-0', () => [P.tcp(0)], 'out-of-range'),
    no('tcp-negative', () => [P.tcp(-1)], 'out-of-range'),
    no('tcp-negative-zero', () => [P.tcp(-0)], 'out-of-range'),
    no('tcp-65536', () => [P.tcp(65536)], 'out-of-range'),
    no('tcp-fraction', () => [P.tcp(1.5)], 'out-of-range'),
    no('tcp-NaN', () => [P.tcp(NaN)], 'wrong-type'),
    no('tcp-Infinity', () => [P.tcp(Infinity)], 'wrong-type'),
    no('tcp-string', () => [P.tcp('443')], 'wrong-type'),
    no('tcp-bigint', () => [P.tcp(443n)], 'wrong-type'),
    no('tcp-array', () => [P.tcp([443])], 'wrong-type'),
    no('tcp-true', () => [P.tcp(true)], 'wrong-type'),
    no('tcp-valueOf', () => [P.tcp({ valueOf: () => 443 })], 'wrong-type'),
    no('tcp-range-reversed', () => [P.tcpRange(90, 80)], 'malformed'),
    no('tcp-range-from-0', () => [P.tcpRange(0, 80)], 'out-of-range'),
    no('tcp-range-to-65536', () => [P.tcpRange(80, 65536)], 'out-of-range'),
    no('sctp-range-one-end', () => [P.sctpRange(1)], 'fail-open'),
    no('protocol-upper-case', () => [P.protocol('TCP')], 'malformed'),
    no('protocol-cyrillic', () => [P.protocol('tсp')], 'unicode'),
    no('protocol-empty', () => [P.protocol('')], 'malformed'),
    no('protocol-undefined', () => [P.protocol()], 'wrong-type'),
    no('protocol-number', () => [P.protocol(6)], 'wrong-type'),
    no('protocol-trailing-space', () => [P.protocol('tcp ')], 'malformed'),
    no('protocol-tmsh', () => [P.protocol('gre;reboot')], 'injection'),
    no('null-element', () => [null], 'wrong-type'),
    no('undefined-element', () => [undefined], 'wrong-type'),
    no('string-element', () => ['tcp/443'], 'wrong-type'),
    no('number-element', () => [443], 'wrong-type'),
    no('plain-object-element', () => [{ protocolName: 'tcp', fromPort: 443, toPort: 443 }], 'wrong-type'),
    no('destination-element', () => [D.anyIpv4()], 'wrong-type'),
    no('prototype-only-instance', () => [Object.create(P.prototype)], 'wrong-type'),
  ];
}

function selectorValues(L, category = 'legal') {
  const ok = (label, make, expected, cat = category) => entry(label, make, 'accept', cat, { selector: expected });
  const no = (label, make, cat, why) => entry(label, make, 'reject', cat, why ? { why } : {});
  // A DNS-subdomain label-key prefix of 253 characters, the maximum.
  const prefix = `${repeat('abcdefghi.', 250)}xyz`;
  return [
    ok('empty-object', () => ({}), undefined),
    ok('empty-match-labels', () => ({ matchLabels: {} }), undefined),
    ok('label', () => ({ matchLabels: { app: 'checkout' } }), { matchLabels: { app: 'checkout' } }),
    ok('empty-label-value', () => ({ matchLabels: { app: '' } }), { matchLabels: { app: '' } }, 'limits'),
    ok('constructor-label', () => ({ matchLabels: { constructor: 'x' } }), { matchLabels: { constructor: 'x' } }, 'proto-key'),
    ok(
      'object-method-labels',
      () => ({ matchLabels: { toString: 'a', hasOwnProperty: 'b', valueOf: 'c' } }),
      { matchLabels: { toString: 'a', hasOwnProperty: 'b', valueOf: 'c' } },
      'proto-key',
    ),
    ok(
      'null-prototype-labels',
      () => ({ matchLabels: Object.assign(Object.create(null), { app: 'x' }) }),
      { matchLabels: { app: 'x' } },
      'proto-key',
    ),
    ok('prefixed-key', () => ({ matchLabels: { 'app.kubernetes.io/name': 'web' } }), { matchLabels: { 'app.kubernetes.io/name': 'web' } }),
    ok(
      'max-key-and-value',
      () => ({ matchLabels: { [`${prefix}/${repeat('k', 63)}`]: repeat('v', 63) } }),
      { matchLabels: { [`${prefix}/${repeat('k', 63)}`]: repeat('v', 63) } },
      'limits',
    ),
    ok('expression-in', () => ({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] }), {
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }],
    }),
    ok('expression-exists-enum', () => ({ matchExpressions: [{ key: 'tier', operator: L.LabelSelectorOperator.EXISTS }] }), {
      matchExpressions: [{ key: 'tier', operator: 'Exists' }],
    }),
    ok('frozen', () => V.deepFreeze({ matchLabels: { app: 'x' } }), { matchLabels: { app: 'x' } }, 'wrong-type'),
    entry('inherited-labels', () => ({ matchLabels: Object.create({ app: 'inherited' }) }), 'either', 'proto-key', {
      selector: { matchLabels: { app: 'inherited' } },
      why: 'the inherited label was dropped, so the selector selects every pod',
    }),
    no(
      'own-proto-label',
      () => ({ matchLabels: JSON.parse('{"__proto__":"evil","app":"x"}') }),
      'proto-key',
      'the "__proto__" label vanished',
    ),
    no(
      'own-proto-object-label',
      () => ({ matchLabels: JSON.parse('{"__proto__":{"app":"x"}}') }),
      'proto-key',
      'the "__proto__" label vanished and the selector selects every pod',
    ),
    no('misspelled-matchLabel', () => ({ matchLabel: { app: 'x' } }), 'unknown-key'),
    no('misplaced-namespace', () => ({ matchLabels: { app: 'x' }, namespace: 'y' }), 'unknown-key'),
    no(
      'expression-misspelled-values',
      () => ({ matchExpressions: [{ key: 'tier', operator: 'Exists', valuse: ['a'] }] }),
      'unknown-key',
      'the misspelled "valuse" was dropped',
    ),
    no('expression-misspelled-operator', () => ({ matchExpressions: [{ key: 'tier', operater: 'In', values: ['a'] }] }), 'unknown-key'),
    no('label-number', () => ({ matchLabels: { app: 1 } }), 'wrong-type'),
    no('label-null', () => ({ matchLabels: { app: null } }), 'wrong-type'),
    no('label-true', () => ({ matchLabels: { app: true } }), 'wrong-type'),
    no('labels-array', () => ({ matchLabels: [] }), 'wrong-type'),
    no('labels-string', () => ({ matchLabels: 'app=x' }), 'wrong-type'),
    no('key-space', () => ({ matchLabels: { 'app name': 'x' } }), 'malformed'),
    no('value-64', () => ({ matchLabels: { app: repeat('v', 64) } }), 'limits'),
    no('key-64', () => ({ matchLabels: { [repeat('k', 64)]: 'v' } }), 'limits'),
    no('prefix-254', () => ({ matchLabels: { [`x${prefix}/k`]: 'v' } }), 'limits'),
    no('key-two-slashes', () => ({ matchLabels: { 'a/b/c': 'x' } }), 'malformed'),
    no('key-leading-dash', () => ({ matchLabels: { '-app': 'x' } }), 'malformed'),
    no('value-interpolation', () => ({ matchLabels: { app: '${var.x}' } }), 'injection'),
    no('value-newline', () => ({ matchLabels: { app: 'x\n' } }), 'injection'),
    no('key-cyrillic', () => ({ matchLabels: { аpp: 'x' } }), 'unicode'),
    no('value-rtl', () => ({ matchLabels: { app: '\u202ex' } }), 'unicode'),
    no('expression-lower-case-operator', () => ({ matchExpressions: [{ key: 'x', operator: 'in', values: ['a'] }] }), 'malformed'),
    no('expression-exists-with-values', () => ({ matchExpressions: [{ key: 'x', operator: 'Exists', values: ['a'] }] }), 'malformed'),
    no('expression-in-without-values', () => ({ matchExpressions: [{ key: 'x', operator: 'In' }] }), 'fail-open'),
    no('expression-in-empty-values', () => ({ matchExpressions: [{ key: 'x', operator: 'In', values: [] }] }), 'fail-open'),
    no('expression-values-string', () => ({ matchExpressions: [{ key: 'x', operator: 'In', values: 'a' }] }), 'wrong-type'),
    no('expressions-object', () => ({ matchExpressions: {} }), 'wrong-type'),
    no('expression-null', () => ({ matchExpressions: [null] }), 'wrong-type'),
  ];
}

// ---------------------------------------------------------------------------------------------
// Rule `snat` (per-rule source translation)

/**
 * A rule's `snat`. Legal values need a device that translates to a pool (a NAT policy's last
 * rule cannot be automap), so they put the rule on such a device; the output must hold a NAT
 * rule translating to exactly the given addresses.
 */
function snatSpec(L) {
  const S = L.EgressSnat;
  const onPooledDevice = (ctx, props) => {
    ctx.snatTenant = 'k8s_pooled';
    props.device = new L.AfmDevice(
      ctx.stack,
      'Pooled',
      ctx.deviceProps({ clusterName: 'pooled', address: 'bigip2.example.net', snat: S.pool(['192.0.2.200', '2001:db8::200']) }),
    );
  };
  const translatesTo = (addresses) => (out, ctx) => {
    const policy = O.as3Objects(out, 'NAT_Policy').find((o) => o.tenant === ctx.snatTenant);
    if (!policy) return ['no NAT_Policy in the tenant of the rule'];
    const rule = policy.obj.rules.find((r) => r.name !== 'default');
    const translation =
      rule && O.as3Objects(out, 'NAT_Source_Translation').find((o) => o.tenant === ctx.snatTenant && o.name === rule.sourceTranslation.use);
    return translation && O.sameSet(translation.obj.addresses.map(O.canonicalAddress), addresses)
      ? []
      : [`the NAT rule does not translate to ${JSON.stringify(addresses)}`];
  };
  const ok = (label, make, addresses) => entry(label, make, 'accept', 'legal', { before: onPooledDevice, verify: translatesTo(addresses) });
  const no = (label, make, category, before = onPooledDevice) => entry(label, make, 'reject', category, { before });
  return {
    prop: 'snat',
    optional: true,
    judge: judge.never(),
    values: [
      ok('pool', () => S.pool(['192.0.2.220']), ['192.0.2.220']),
      ok('pool-two', () => S.pool(['192.0.2.221', '192.0.2.220']), ['192.0.2.220', '192.0.2.221']),
      no('automap', () => S.automap(), 'impossible'),
      no('none', () => S.none(), 'impossible'),
      no('pool-empty', () => S.pool([]), 'fail-open'),
      no('pool-null', () => S.pool(null), 'wrong-type'),
      no('pool-string', () => S.pool('192.0.2.220'), 'wrong-type'),
      no('pool-cidr', () => S.pool(['192.0.2.0/24']), 'malformed'),
      no('pool-duplicate', () => S.pool(['192.0.2.220', '192.0.2.220']), 'duplicates'),
      no('string-mode', 'POOL', 'wrong-type'),
      no('literal-object', { mode: 'POOL', addresses: ['192.0.2.220'] }, 'wrong-type'),
      no('prototype-only-instance', () => Object.create(S.prototype), 'wrong-type'),
      // IPv4 destinations of IPv6-capable pods: an IPv6-only pool would be NAT64.
      no('ipv6-pool-for-ipv4', () => S.pool(['2001:db8::220']), 'impossible'),
      no(
        'with-deny',
        () => S.pool(['192.0.2.220']),
        'semantics',
        (ctx, props) => {
          onPooledDevice(ctx, props);
          props.action = 'DENY';
        },
      ),
      no(
        'with-audit',
        () => S.pool(['192.0.2.220']),
        'semantics',
        (ctx, props) => {
          onPooledDevice(ctx, props);
          props.audit = true;
        },
      ),
      no(
        'with-icmp',
        () => S.pool(['192.0.2.220']),
        'semantics',
        (ctx, props) => {
          onPooledDevice(ctx, props);
          props.ports = [L.EgressPort.HTTPS, L.EgressPort.icmp()];
        },
      ),
      // The device is left at automap: the NAT policy's last rule could not carry it.
      no(
        'device-automap',
        () => S.pool(['192.0.2.220']),
        'semantics',
        () => {},
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Rules

const RULE_KINDS = [
  { kind: 'ClusterEgressRule', level: 'cluster', extra: {} },
  { kind: 'NamespaceEgressRule', level: 'namespace', extra: { namespace: 'payments' } },
  { kind: 'ServiceEgressRule', level: 'service', extra: { namespace: 'payments', service: 'checkout' } },
];

function ruleCr(out, rk, ctx) {
  const name = ctx.ruleName || 'hostile';
  return O.findCr(out, rk.kind, name);
}

/** The `redirect` prop of a rule (an EgressRedirect); the base rule allows HTTPS to 203.0.113.0/24. */
function redirectSpec(L, withCr) {
  const R = L.EgressRedirect;
  const via = (name, gateways) => () => R.viaGateways(name, gateways);
  const semantics = (label, change, alsoFields = []) =>
    entry(label, via('proxy', ['192.0.2.10']), 'reject', 'semantics', { before: (ctx, props) => change(props), alsoFields });
  return {
    prop: 'redirect',
    optional: true,
    judge: judge.never(),
    values: [
      entry('proxy', via('proxy', ['192.0.2.10']), 'accept', 'legal'),
      entry('two-gateways', via('inspection', ['192.0.2.10', '192.0.2.11']), 'accept', 'legal'),
      entry(
        'max-gateways',
        via(
          'many',
          Array.from({ length: 16 }, (_, i) => `192.0.2.${i + 1}`),
        ),
        'accept',
        'limits',
      ),
      entry(
        'over-max-gateways',
        via(
          'many',
          Array.from({ length: 17 }, (_, i) => `192.0.2.${i + 1}`),
        ),
        'reject',
        'limits',
      ),
      entry('max-name', via('a'.repeat(40), ['192.0.2.10']), 'accept', 'limits'),
      entry('long-name', via('a'.repeat(41), ['192.0.2.10']), 'reject', 'limits'),
      entry('upper-case-name', via('Proxy', ['192.0.2.10']), 'reject', 'malformed'),
      entry('empty-name', via('', ['192.0.2.10']), 'reject', 'malformed'),
      entry('injection-name', via('x;rm -rf', ['192.0.2.10']), 'reject', 'injection'),
      entry('unicode-name', via('prøxy', ['192.0.2.10']), 'reject', 'unicode'),
      entry('number-name', via(7, ['192.0.2.10']), 'reject', 'wrong-type'),
      entry('no-gateways', via('proxy', []), 'reject', 'fail-open'),
      entry('gateways-string', via('proxy', '192.0.2.10'), 'reject', 'wrong-type'),
      entry('gateway-number', via('proxy', [3221225994]), 'reject', 'wrong-type'),
      entry('ipv6-gateway', via('proxy', ['2001:db8::1']), 'reject', 'impossible'),
      entry('cidr-gateway', via('proxy', ['192.0.2.0/24']), 'reject', 'malformed'),
      entry('leading-zero-gateway', via('proxy', ['192.0.2.010']), 'reject', 'malformed'),
      entry('repeated-gateway', via('proxy', ['192.0.2.10', '192.0.2.10']), 'reject', 'duplicates'),
      entry('gateway-newline', via('proxy', ['192.0.2.10\n']), 'reject', 'injection'),
      entry('plain-object', { name: 'proxy', gateways: ['192.0.2.10'] }, 'reject', 'wrong-type'),
      semantics('with-deny', (props) => (props.action = 'DENY')),
      semantics('with-reject', (props) => (props.action = 'REJECT')),
      semantics('with-audit', (props) => (props.audit = true)),
      semantics('fqdn-destination', (props) => (props.destinations = [L.EgressDestination.fqdn('api.example.com')]), ['destinations[0]']),
      semantics('every-ipv4', (props) => (props.destinations = [L.EgressDestination.anyIpv4()]), ['destinations[0]']),
      semantics('ipv6-destination', (props) => (props.destinations = [L.EgressDestination.cidr('2001:db8::/32')]), ['destinations[0]']),
    ],
    render: withCr((c, v, out) => {
      const model = v._toModel();
      const gateways = model.gateways.map((g) => g.text);
      const problems = O.eq(c.spec.redirect, { name: model.name, gateways }, 'spec.redirect');
      const pool = O.as3Objects(out, 'Pool').find((x) => x.name === `rdr_${model.name}`);
      if (!pool) problems.push(`no gateway pool rdr_${model.name} in the AS3`);
      else if (JSON.stringify(pool.obj.members) !== JSON.stringify([{ servicePort: 0, serverAddresses: gateways }]))
        problems.push(`pool rdr_${model.name} has members ${JSON.stringify(pool.obj.members)}`);
      const listeners = O.as3Objects(out, 'Service_L4').filter((x) => x.obj.pool === `rdr_${model.name}`);
      if (listeners.length !== 1 || listeners[0].obj.layer4 !== 'tcp')
        problems.push(`${listeners.length} redirect listeners, expected one for tcp`);
      return problems;
    }),
  };
}

/** The rule's onMatch iRule: what AS3, Terraform and Tcl treat specially, and what AFM rule iRules accept. */
function iRuleSpec(L) {
  const I = L.EgressIRule;
  const block = (body) => `when FLOW_INIT {\n${body}\n}`;
  const LOG = block('    log local0. "flow [IP::client_addr]"');
  /** The rendered iRule holds exactly `code` (base64, not expanded), and no template sequence of it reaches cdk.tf.json. */
  const holds = (code) => (out) => {
    const found = O.as3Objects(out, 'iRule').filter((x) => x.name.includes('_irule_'));
    if (found.length !== 1) return [`expected one onMatch iRule, found ${found.length}`];
    const { obj } = found[0];
    const problems = [];
    if (obj.expand !== false) problems.push(`iRule expand is ${show(obj.expand)}, not false`);
    if (!obj.iRule || typeof obj.iRule.base64 !== 'string') return [...problems, `iRule value ${show(obj.iRule)} is not base64`];
    const text = Buffer.from(obj.iRule.base64, 'base64').toString('utf8');
    if (text !== code) problems.push(`iRule text ${show(text)} is not ${show(code)}`);
    return problems;
  };
  return {
    prop: 'onMatch',
    optional: true,
    judge: judge.never(),
    values: [
      entry('log-line', () => I.fromString(LOG), 'accept', 'legal', { verify: holds(LOG) }),
      entry('tcl-templates', () => I.fromString(block('    set a "${x} %{y} $${z}"\n    log local0. $a')), 'accept', 'injection', {
        verify: holds(block('    set a "${x} %{y} $${z}"\n    log local0. $a')),
      }),
      entry('backquotes', () => I.fromString(block('    log local0. "`A` `` `~`"')), 'accept', 'injection', {
        verify: holds(block('    log local0. "`A` `` `~`"')),
      }),
      entry('crlf', () => I.fromString(`\r\n${LOG.replace(/\n/g, '\r\n')}\r\n`), 'accept', 'malformed', { verify: holds(LOG) }),
      entry('max-size', () => I.fromString(block(`    # ${'x'.repeat(4096 - block('    # ').length)}`)), 'accept', 'limits'),
      entry('over-max-size', () => I.fromString(block(`    # ${'x'.repeat(4097 - block('    # ').length)}`)), 'reject', 'out-of-range'),
      entry('lone-cr', () => I.fromString(block('    log local0. "a\rb"')), 'reject', 'injection'),
      entry('nul', () => I.fromString(block('    log local0. "a\u0000b"')), 'reject', 'injection'),
      entry('unicode', () => I.fromString(block('    log local0. "café ☕"')), 'reject', 'unicode'),
      entry('line-separator', () => I.fromString(block('    log local0. a\u2028drop')), 'reject', 'unicode'),
      entry('trailing-blank', () => I.fromString(block('    log local0. x  ')), 'reject', 'malformed'),
      entry('continuation', () => I.fromString(block('    log local0. a\\\n        b')), 'reject', 'malformed'),
      entry('empty', () => I.fromString(''), 'reject', 'malformed'),
      entry('blank', () => I.fromString(' \n\t '), 'reject', 'malformed'),
      entry('no-event', () => I.fromString('log local0. x'), 'reject', 'malformed'),
      entry('other-event', () => I.fromString(`${LOG}\nwhen HTTP_REQUEST {\n    log local0. x\n}`), 'reject', 'impossible'),
      entry('priority', () => I.fromString(LOG.replace('FLOW_INIT', 'FLOW_INIT priority 1')), 'reject', 'malformed'),
      entry('unbalanced-brace', () => I.fromString('when FLOW_INIT {\n    log local0. x\n'), 'reject', 'malformed'),
      entry('stray-close', () => I.fromString(`${LOG}\n}`), 'reject', 'injection'),
      entry('unbalanced-quote', () => I.fromString(block('    log local0. "x')), 'reject', 'malformed'),
      entry('acl-action', () => I.fromString(block('    ACL::action accept')), 'reject', 'fail-open'),
      entry('drop', () => I.fromString(block('    if {[IP::client_addr] eq "10.0.0.1"} { drop }')), 'reject', 'semantics'),
      entry('bwc', () => I.fromString(block('    BWC::policy attach other')), 'reject', 'semantics'),
      entry('dynamic-command', () => I.fromString(block('    set c log\n    $c local0. x')), 'reject', 'injection'),
      entry('eval', () => I.fromString(block('    eval [list log local0. x]')), 'reject', 'injection'),
      entry('missing-file', () => I.fromFile('/nonexistent/cdktf-ces/tag.tcl'), 'reject', 'impossible'),
      entry('empty-path', () => I.fromFile(''), 'reject', 'malformed'),
      entry('non-string-code', () => I.fromString(42), 'reject', 'wrong-type'),
      entry('forged', () => Object.create(I.prototype), 'reject', 'wrong-type'),
      entry('plain-code', LOG, 'reject', 'wrong-type'),
      entry('with-deny', () => I.fromString(LOG), 'reject', 'semantics', { before: (ctx, props) => (props.action = 'DENY') }),
      entry('with-audit', () => I.fromString(LOG), 'reject', 'semantics', { before: (ctx, props) => (props.audit = true) }),
    ],
  };
}

function ruleCases(L, add) {
  const D = L.EgressDestination;
  const P = L.EgressPort;
  for (const rk of RULE_KINDS) {
    const base = (ctx) => ({
      device: ctx.device,
      action: 'ALLOW',
      destinations: [D.cidr('203.0.113.0/24')],
      ports: [P.HTTPS],
      ...rk.extra,
    });
    const build = (ctx, props) => new L[rk.kind](ctx.stack, 'Hostile', props);
    const cr = (out, ctx) => ruleCr(out, rk, ctx);
    const withCr = (fn) => (out, v, ctx) => {
      const c = cr(out, ctx);
      if (!c) return [`no ${rk.kind} custom resource named ${ctx.ruleName || 'hostile'}`];
      return fn(c, v, out, ctx);
    };
    const misplaced = (prop, fix) => ({
      prop,
      judge: (v) => (v === undefined ? 'accept' : 'reject'),
      optional: true,
      why: `"${prop}" is not a prop of a ${rk.kind} (${fix}) and was dropped, widening the rule`,
      values: [
        entry(
          'legal-looking',
          prop === 'service' ? 'checkout' : prop === 'namespace' ? 'payments' : { matchLabels: { team: 'a' } },
          'reject',
          'unknown-key',
        ),
      ],
    });
    const textSpec = (prop, render) => ({
      prop,
      optional: true,
      judge: judge.text(64),
      values: V.textValues(64).map(([l, v, c]) => entry(l, v, undefined, c)),
      render: withCr(render),
    });
    const remarkIs = (out, v) =>
      v === '' || O.userRules(out).some((r) => r.remark === v)
        ? []
        : [`no AFM rule has the remark ${JSON.stringify(v)}: ${JSON.stringify(O.userRules(out).map((r) => r.remark))}`];
    const annotation = (key) => (c, v, out) => [
      ...(v === ''
        ? c.metadata.annotations[`${O.API}/${key}`] === undefined
          ? []
          : [`annotation ${key} set for an empty ${key}`]
        : O.eq(c.metadata.annotations[`${O.API}/${key}`], v, `annotation ${O.API}/${key}`)),
      ...remarkIs(out, v),
    ];
    const specs = [
      {
        prop: 'device',
        judge: judge.never(),
        values: [
          entry(
            'device-of-other-app',
            (ctx) => {
              const other = ctx.cdktf.Testing.app();
              const crds = new L.EgressCrdStack(other, 'crds');
              const s = new ctx.cdktf.TerraformStack(other, 'egress');
              return new L.AfmDevice(s, 'Bigip', { ...ctx.deviceProps(), crdStack: crds });
            },
            'reject',
            'semantics',
          ),
          entry(
            'device-of-other-stack',
            (ctx) =>
              new L.AfmDevice(ctx.newStack('other'), 'Bigip', ctx.deviceProps({ clusterName: 'other', address: 'bigip2.example.net' })),
            'reject',
            'semantics',
          ),
          entry(
            'external-service',
            (ctx) => new L.ExternalService(ctx.stack, 'Bank', { device: ctx.device, destinations: [D.address('198.51.100.7')] }),
            'reject',
            'wrong-type',
          ),
          entry('crd-stack', (ctx) => ctx.crds, 'reject', 'wrong-type'),
          entry('device-spread-copy', (ctx) => ({ ...ctx.device }), 'reject', 'wrong-type'),
        ],
      },
      {
        prop: 'name',
        optional: true,
        judge: judge.dnsLabel(),
        values: V.dnsLabelValues().map(([l, v, c]) => entry(l, v, undefined, c, { before: (ctx) => (ctx.ruleName = v) })),
        generic: {},
        render: (out, v, ctx) => (O.findCr(out, rk.kind, v) ? [] : [`no ${rk.kind} named ${JSON.stringify(v)}`]),
      },
      rk.level === 'cluster'
        ? misplaced('namespace', 'use a NamespaceEgressRule')
        : {
            prop: 'namespace',
            judge: judge.dnsLabel(),
            values: V.dnsLabelValues().map(([l, v, c]) => entry(l, v, undefined, c)),
            render: withCr((c, v) => O.eq(c.metadata.namespace, v, 'metadata.namespace')),
          },
      rk.level === 'service'
        ? {
            prop: 'service',
            judge: judge.dnsLabel(),
            values: V.dnsLabelValues().map(([l, v, c]) => entry(l, v, undefined, c)),
            render: withCr((c, v) => O.eq(c.spec.service, v, 'spec.service')),
          }
        : misplaced('service', 'use a ServiceEgressRule'),
      {
        prop: 'action',
        judge: judge.oneOf(['DENY', 'REJECT', 'ALLOW', 'ALLOW_FINAL']),
        values: [
          ...['DENY', 'REJECT', 'ALLOW', 'ALLOW_FINAL'].map((a) => entry(`enum-${a}`, L.EgressAction[a], 'accept', 'legal')),
          ...[
            ['lower-case', 'allow'],
            ['title-case', 'Allow'],
            ['afm-accept', 'accept'],
            ['afm-drop', 'drop'],
            ['trailing-space', 'ALLOW '],
            ['nul', 'ALLOW\u0000'],
            ['semicolon', 'DENY;ALLOW'],
            ['lower-final', 'allow_final'],
          ].map(([l, v]) => entry(l, v, 'reject', 'malformed')),
          entry('cyrillic-A', 'АLLOW', 'reject', 'unicode'),
        ],
        render: withCr((c, v) => O.eq(c.spec.action, O.ACTION_CR[v], 'spec.action')),
      },
      {
        prop: 'priority',
        optional: true,
        judge: judge.int(0, 1000),
        values: [
          entry('min-0', 0, 'accept', 'limits'),
          entry('max-1000', 1000, 'accept', 'limits'),
          entry('negative-zero', -0, 'accept', 'limits'),
          entry('minus-1', -1, 'reject', 'out-of-range'),
          entry('1001', 1001, 'reject', 'out-of-range'),
          entry('fraction', 0.5, 'reject', 'out-of-range'),
          entry('1e21', 1e21, 'reject', 'out-of-range'),
          entry('2-pow-53', 2 ** 53, 'reject', 'out-of-range'),
          entry('max-value', Number.MAX_VALUE, 'reject', 'out-of-range'),
          entry('minus-Infinity', -Infinity, 'reject', 'out-of-range'),
          entry('numeric-string', '5', 'reject', 'wrong-type'),
          entry('hex-string', '0x10', 'reject', 'wrong-type'),
        ],
        render: withCr((c, v) => (c.spec.priority === v ? [] : [`spec.priority is ${c.spec.priority}, expected ${v}`])),
      },
      {
        prop: 'destinations',
        judge: judge.never(),
        values: destinationValues(L, { forRule: true }),
        render: withCr((c, v, out, ctx) => {
          const want = (ctx.valueSpec || []).map(O.destinationKey);
          const problems = [];
          if (!O.sameSet(O.crDestinationKeys(c), want))
            problems.push(`CR destinations ${JSON.stringify(O.crDestinationKeys(c))}, expected ${JSON.stringify(want)}`);
          if (
            !O.sameSet(
              O.destinationListKeys(out),
              want.filter((k) => !k.startsWith('es:')),
            )
          )
            problems.push(`AFM destination lists hold ${JSON.stringify(O.destinationListKeys(out))}, expected ${JSON.stringify(want)}`);
          return problems;
        }),
      },
      {
        prop: 'ports',
        optional: true,
        judge: judge.never(),
        values: portValues(L),
        render: withCr((c, v, out, ctx) => {
          const problems = O.eq(c.spec.ports, ctx.valuePorts, 'CR spec.ports');
          const afm = O.userRules(out).flatMap((r) => O.ruleProtocolPorts(out, r));
          if (!O.sameSet(afm, O.crPortKeys({ spec: { ports: ctx.valuePorts } })))
            problems.push(
              `AFM rules match ${JSON.stringify([...new Set(afm)])}, expected ${JSON.stringify(O.crPortKeys({ spec: { ports: ctx.valuePorts } }))}`,
            );
          return problems;
        }),
      },
      rk.level === 'cluster'
        ? {
            prop: 'namespaceSelector',
            optional: true,
            judge: judge.never(),
            generic: { 'empty-object': 'accept' },
            values: selectorValues(L),
            render: withCr((c, v, out, ctx) => O.eq(c.spec.namespaceSelector, ctx.valueSelector, 'spec.namespaceSelector')),
          }
        : misplaced('namespaceSelector', 'only cluster rules select namespaces'),
      rk.level === 'service'
        ? misplaced('podSelector', "a service rule's pods are those its Service selects")
        : {
            prop: 'podSelector',
            optional: true,
            judge: judge.never(),
            generic: { 'empty-object': 'accept' },
            values: selectorValues(L),
            render: withCr((c, v, out, ctx) => O.eq(c.spec.podSelector, ctx.valueSelector, 'spec.podSelector')),
          },
      {
        prop: 'logging',
        optional: true,
        bool: true,
        judge: judge.bool(),
        values: [entry('false', false, 'accept', 'legal')],
        render: withCr((c, v, out) => [
          ...O.eq(c.spec.logging, v ? true : undefined, 'spec.logging'),
          // The rule's own AFM rules log as asked; its copies carried into the virtual-server policy never do.
          ...(O.userRules(out)
            .filter((r) => !O.carriedRules(out).includes(r))
            .every((r) => !!r.loggingEnabled === v)
            ? []
            : [`AFM loggingEnabled differs from ${v}`]),
          ...(O.carriedRules(out).some((r) => r.loggingEnabled) ? ['a carried copy of the rule logs'] : []),
        ]),
      },
      {
        prop: 'audit',
        optional: true,
        bool: true,
        judge: judge.bool(),
        values: [entry('false', false, 'accept', 'legal')],
        render: withCr((c, v) => O.eq(c.spec.audit, v ? true : undefined, 'spec.audit')),
      },
      textSpec('description', (c, v, out) => [
        ...O.eq(c.spec.description, v === '' ? undefined : v, 'spec.description'),
        ...remarkIs(out, v),
      ]),
      textSpec('owner', annotation('owner')),
      textSpec('ticket', annotation('ticket')),
      textSpec('justification', annotation('justification')),
      snatSpec(L),
      {
        prop: 'bandwidthLimit',
        optional: true,
        judge: judge.never(),
        values: [
          entry('min', { maxBandwidth: 1 }, 'accept', 'limits'),
          // AS3's Bandwidth_Control_Policy takes 1 Mbps to 320 Gbps.
          entry('max-gbps', { maxBandwidth: 320, unit: 'Gbps' }, 'accept', 'limits'),
          entry('over-max-gbps', { maxBandwidth: 321, unit: 'Gbps' }, 'reject', 'out-of-range'),
          entry('enum-unit', { maxBandwidth: 10_000, unit: L.BandwidthUnit.KBPS }, 'accept', 'legal'),
          entry('under-1-mbps', { maxBandwidth: 999, unit: L.BandwidthUnit.KBPS }, 'reject', 'out-of-range'),
          entry('zero', { maxBandwidth: 0 }, 'reject', 'out-of-range'),
          entry('negative', { maxBandwidth: -1 }, 'reject', 'out-of-range'),
          entry('fraction', { maxBandwidth: 1.5 }, 'reject', 'out-of-range'),
          entry('over-32-bit', { maxBandwidth: 4294967296 }, 'reject', 'out-of-range'),
          entry('NaN', { maxBandwidth: NaN }, 'reject', 'wrong-type'),
          entry('string', { maxBandwidth: '10' }, 'reject', 'wrong-type'),
          entry('lower-unit', { maxBandwidth: 10, unit: 'mbps' }, 'reject', 'malformed'),
          entry('unknown-unit', { maxBandwidth: 10, unit: 'Tbps' }, 'reject', 'malformed'),
          entry('misspelled-units', { maxBandwidth: 10, units: 'Kbps' }, 'reject', 'unknown-key'),
          entry('misspelled-max', { max: 10 }, 'reject', 'unknown-key'),
          entry('with-deny', { maxBandwidth: 10 }, 'reject', 'semantics', { before: (ctx, props) => (props.action = 'DENY') }),
        ],
        render: withCr((c, v) =>
          O.eq(c.spec.bandwidthLimit, { maxBandwidth: v.maxBandwidth, unit: v.unit || 'Mbps' }, 'spec.bandwidthLimit'),
        ),
      },
      redirectSpec(L, withCr),
      iRuleSpec(L),
      {
        prop: 'schedule',
        optional: true,
        judge: judge.never(),
        values: [
          entry('whole-day', { startTime: '00:00', endTime: '24:00' }, 'accept', 'limits'),
          entry(
            'office-hours',
            { startTime: '08:30', endTime: '17:00', daysOfWeek: ['monday', 'friday'], timeZone: 'Europe/Berlin' },
            'accept',
            'legal',
          ),
          entry('odd-zone', { startTime: '08:00', endTime: '09:00', timeZone: 'Asia/Kathmandu' }, 'accept', 'limits'),
          entry('enum-day', { startTime: '08:00', endTime: '09:00', daysOfWeek: [L.Weekday.SUNDAY] }, 'accept', 'legal'),
          entry('frozen', V.deepFreeze({ startTime: '08:00', endTime: '09:00', daysOfWeek: ['monday'] }), 'accept', 'wrong-type'),
          entry('duplicate-day', { startTime: '08:00', endTime: '09:00', daysOfWeek: ['monday', 'monday'] }, 'either', 'duplicates'),
          entry('lower-case-zone', { startTime: '08:00', endTime: '09:00', timeZone: 'utc' }, 'either', 'malformed'),
          entry('empty', {}, 'reject', 'wrong-type'),
          entry('no-leading-zero', { startTime: '8:30', endTime: '17:00' }, 'reject', 'malformed'),
          entry('24-01', { startTime: '08:00', endTime: '24:01' }, 'reject', 'impossible'),
          entry('minute-60', { startTime: '12:60', endTime: '13:00' }, 'reject', 'impossible'),
          entry('hour-25', { startTime: '08:00', endTime: '25:00' }, 'reject', 'impossible'),
          entry('end-before-start', { startTime: '17:00', endTime: '08:00' }, 'reject', 'malformed'),
          entry('empty-window', { startTime: '08:00', endTime: '08:00' }, 'reject', 'fail-open'),
          entry('no-days', { startTime: '08:00', endTime: '09:00', daysOfWeek: [] }, 'reject', 'fail-open'),
          entry('title-case-day', { startTime: '08:00', endTime: '09:00', daysOfWeek: ['Monday'] }, 'reject', 'malformed'),
          entry('unknown-day', { startTime: '08:00', endTime: '09:00', daysOfWeek: ['funday'] }, 'reject', 'malformed'),
          entry('days-string', { startTime: '08:00', endTime: '09:00', daysOfWeek: 'monday' }, 'reject', 'wrong-type'),
          entry('unknown-zone', { startTime: '08:00', endTime: '09:00', timeZone: 'Mars/Olympus' }, 'reject', 'impossible'),
          entry('empty-zone', { startTime: '08:00', endTime: '09:00', timeZone: '' }, 'reject', 'malformed'),
          entry('zone-newline', { startTime: '08:00', endTime: '09:00', timeZone: 'UTC\n' }, 'reject', 'injection'),
          entry('misspelled-timezone', { startTime: '08:00', endTime: '09:00', timezone: 'Europe/Berlin' }, 'reject', 'unknown-key', {
            why: 'the misspelled "timezone" was dropped and the window runs in UTC',
          }),
          entry('numeric-times', { startTime: 830, endTime: 1700 }, 'reject', 'wrong-type'),
        ],
        render: withCr((c, v) => {
          const days = v.daysOfWeek ? O.WEEK.filter((d) => v.daysOfWeek.includes(d)) : O.WEEK;
          return O.eq(
            c.spec.schedule,
            { daysOfWeek: days, startTime: v.startTime, endTime: v.endTime, timeZone: v.timeZone || 'UTC' },
            'spec.schedule',
          );
        }),
      },
      {
        prop: 'expiresAt',
        optional: true,
        judge: () => 'reject',
        values: V.INSTANTS.map(([l, v, e, c]) => entry(l, v, e, c)),
        generic: {},
        render: withCr((c, v) =>
          Date.parse(c.spec.expiresAt) === Date.parse(v) ? [] : [`spec.expiresAt is ${c.spec.expiresAt}, expected ${v}`],
        ),
      },
    ];
    // The expected rendering of destination, port and selector values rides on the context.
    for (const s of specs) {
      for (const e of s.values || []) {
        const before = e.before;
        if (e.spec !== undefined || e.ports !== undefined || 'selector' in e) {
          e.before = (ctx, props) => {
            ctx.valueSpec = e.spec;
            ctx.valuePorts = e.ports;
            ctx.valueSelector = e.selector;
            if (before) before(ctx, props);
          };
        }
      }
    }
    propCases(add, { target: rk.kind, specs, base, build });

    unknownKeyCases(add, {
      target: rk.kind,
      base,
      build,
      keys: [
        ['podSelecter', { matchLabels: { app: 'checkout' } }, 'the misspelled "podSelecter" was dropped, so the rule applies to every pod'],
        ['priorty', 1],
        ['destination', () => [L.EgressDestination.anyIpv4()]],
        ['port', () => [L.EgressPort.SSH]],
        ['descripton', 'x'],
        ['Action', 'DENY'],
        ['expires', '2099-01-01T00:00:00Z', 'the misspelled "expires" was dropped, so the rule never expires'],
        ['owners', 'team-a'],
        ['foo', 'bar'],
        ['clusterName', 'prod'],
        ['tenant', 'k8s_prod'],
        ['protocol', 'udp'],
        ['enabled', false, 'an "enabled: false" was dropped, so the rule is enforced'],
        ['ports ', () => [L.EgressPort.SSH]],
        ['stage', true],
        ...(rk.level === 'cluster'
          ? [
              [
                'namespaceSelecter',
                { matchLabels: { team: 'a' } },
                'the misspelled "namespaceSelecter" was dropped, so the rule applies to every namespace',
              ],
            ]
          : []),
        ...(rk.level === 'namespace' ? [['namespaces', ['a', 'b']]] : []),
        ...(rk.level === 'service'
          ? [
              ['serviceName', 'checkout'],
              ['selector', { app: 'checkout' }],
            ]
          : []),
      ],
    });
  }
}

// ---------------------------------------------------------------------------------------------
// ExternalService

function externalServiceCases(L, add) {
  const D = L.EgressDestination;
  const P = L.EgressPort;
  const base = (ctx) => ({ device: ctx.device, destinations: [D.fqdn('sftp.bank.example')] });
  const build = (ctx, props) => {
    const es = new L.ExternalService(ctx.stack, 'Bank', props);
    new L.NamespaceEgressRule(ctx.stack, 'ToBank', {
      device: ctx.device,
      namespace: 'payments',
      action: 'ALLOW',
      destinations: [D.externalService(es)],
      ports: [P.SSH],
    });
    ctx.esName = es.serviceName;
  };
  const withCr = (fn) => (out, v, ctx) => {
    const c = O.findCr(out, 'ExternalService', ctx.esName);
    return c ? fn(c, v, out, ctx) : [`no ExternalService CR named ${ctx.esName}`];
  };
  const esList = (out, ctx) => O.as3Objects(out, 'Firewall_Address_List').find((x) => x.name.endsWith(`exsvc_${ctx.esName}`));
  const specs = [
    {
      prop: 'device',
      judge: judge.never(),
      values: [
        entry(
          'device-of-other-stack',
          (ctx) =>
            new L.AfmDevice(ctx.newStack('other'), 'Bigip', ctx.deviceProps({ clusterName: 'other', address: 'bigip2.example.net' })),
          'reject',
          'semantics',
        ),
        entry(
          'shared-bigip',
          (ctx) => new L.SharedBigip(ctx.stack, 'Shared', { address: 'bigip2.example.net', tlsCaBundlePath: '/ca.pem' }),
          'reject',
          'wrong-type',
        ),
      ],
    },
    {
      prop: 'name',
      optional: true,
      judge: judge.dnsLabel(),
      values: V.dnsLabelValues().map(([l, v, c]) => entry(l, v, undefined, c)),
      render: withCr(() => []),
    },
    {
      prop: 'destinations',
      judge: judge.never(),
      values: [
        ...destinationValues(L, { forRule: false }).filter((e) => !e.label.startsWith('external-service')),
        entry(
          'nested-external-service',
          (ctx) => [
            D.externalService(new L.ExternalService(ctx.stack, 'Inner', { device: ctx.device, destinations: [D.address('198.51.100.9')] })),
          ],
          'reject',
          'semantics',
        ),
      ],
      render: withCr((c, v, out, ctx) => {
        const want = (ctx.valueSpec || []).map(O.destinationKey);
        const list = esList(out, ctx);
        const got = list
          ? [...(list.obj.addresses || []).map((a) => `ip:${O.canonicalAddress(a)}`), ...(list.obj.fqdns || []).map((f) => `fqdn:${f}`)]
          : [];
        return [
          ...(O.sameSet(O.crDestinationKeys(c), want)
            ? []
            : [`CR destinations ${JSON.stringify(O.crDestinationKeys(c))}, expected ${JSON.stringify(want)}`]),
          ...(O.sameSet(got, want) ? [] : [`AFM list exsvc_${ctx.esName} holds ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`]),
        ];
      }),
    },
    {
      prop: 'description',
      optional: true,
      judge: judge.text(64),
      values: V.textValues(64).map(([l, v, c]) => entry(l, v, undefined, c)),
      render: withCr((c, v, out, ctx) => {
        const list = esList(out, ctx);
        return [
          ...O.eq(c.spec.description, v === '' ? undefined : v, 'spec.description'),
          ...(v === '' || (list && list.obj.remark === v) ? [] : [`list remark is ${JSON.stringify(list && list.obj.remark)}`]),
        ];
      }),
    },
  ];
  for (const s of specs) {
    for (const e of s.values || []) {
      if (e.spec !== undefined) {
        const before = e.before;
        e.before = (ctx, props) => {
          ctx.valueSpec = e.spec;
          if (before) before(ctx, props);
        };
      }
    }
  }
  propCases(add, { target: 'ExternalService', specs, base, build });
  unknownKeyCases(add, {
    target: 'ExternalService',
    base,
    build,
    keys: [
      ['ports', () => [L.EgressPort.SSH], 'an ExternalService has no ports (CES ExternalServices do): they were dropped'],
      ['addresses', ['198.51.100.7']],
      ['descripton', 'x'],
      ['namespace', 'kube-system'],
    ],
  });
}

module.exports = {
  propCases,
  unknownKeyCases,
  entry,
  ruleCases,
  externalServiceCases,
  destinationValues,
  portValues,
  selectorValues,
  RULE_KINDS,
  HEX64,
};
