/**
 * AFM network-firewall events in the forms the BIG-IP's remote high-speed log sends (RFC 5424
 * header; field-list values or the predefined key="value" pairs), and the lines that must be
 * rejected with a reason instead of throwing or leaking into the JSON output.
 */
import fc from 'fast-check';
import { enrich, recordLine } from '../../lib/flowlog/enrich';
import { AfmLogParser, REJECT_REASONS } from '../../lib/flowlog/parse';
import { DEFAULT_FIELDS, fieldListLine } from './support';
import { NAT_LOG_DELIMITER, NAT_LOG_FIELDS } from '../../lib/afm/nat';

const parser = new AfmLogParser({ fields: DEFAULT_FIELDS });

describe('AFM events the device sends', () => {
  test("field-list form (the renderer's storage format): every configured field, in order", () => {
    expect(parser.parse(fieldListLine())).toEqual({
      ok: true,
      event: {
        time: '2026-03-02T09:30:00.250Z',
        device: 'bigip1.example.net',
        action: 'drop',
        sourceIp: '10.244.1.5',
        sourcePort: 40000,
        destinationIp: '203.0.113.10',
        destinationPort: 443,
        protocol: 'tcp',
        contextType: 'Virtual Server',
        contextName: '/k8s_demo_prod/egress/egress_vs',
        policy: '/Common/Shared/k8s_demo_prod_vs_policy',
        rule: 'default',
        routeDomain: 0,
      },
    });
  });

  test('the field list of the device decides which value is which', () => {
    const p = new AfmLogParser({ fields: ['src-ip', 'dest-ip', 'dest-port', 'protocol', 'action', 'acl-rule-name', 'vlan'] });
    const line =
      '<134>1 2026-03-02T10:00:00+01:00 bigip1 tmm - - - "10.244.1.5","[2001:db8::5]","443","UDP","Accept Decisively","c_allow-dns_udp","/Common/external"';
    expect(p.parse(line)).toEqual({ ok: false, reason: 'bad-address' });
    const ok =
      '<134>1 2026-03-02T10:00:00+01:00 bigip1 tmm - - - "10.244.1.5","2001:DB8::5","53","UDP","Accept Decisively","c_allow-dns_udp","/Common/external"';
    expect(p.parse(ok)).toEqual({
      ok: true,
      event: {
        time: '2026-03-02T09:00:00.000Z',
        device: 'bigip1',
        action: 'accept-decisively',
        sourceIp: '10.244.1.5',
        destinationIp: '2001:db8::5',
        destinationPort: 53,
        protocol: 'udp',
        rule: 'c_allow-dns_udp',
        vlan: '/Common/external',
      },
    });
  });

  test('predefined key="value" form, with date_time as the time when the header has none, and the DNS name', () => {
    const line =
      '<134>1 - bigip1 tmm 1234 23003137 - action="Reject",hostname="bigip1.example.net",bigip_mgmt_ip="192.0.2.10",context_name="/k8s_demo_prod/egress/egress_vs",context_type="Virtual Server",date_time="Mar 02 2026 09:30:01",dest_fqdn="Mail.Example.NET.",dest_ip="192.0.2.25",dest_port="25",device_product="Advanced Firewall Module",drop_reason="Policy",ip_protocol="TCP",route_domain="2",source_ip="10.244.1.5%2",source_port="51000",vlan="/Common/internal",acl_policy_name="/Common/Shared/k8s_demo_prod_global_policy_staged",acl_policy_type="Staged",acl_rule_name="c_no-smtp_tcp"';
    expect(parser.parse(line)).toEqual({
      ok: true,
      event: {
        time: '2026-03-02T09:30:01.000Z',
        device: 'bigip1.example.net',
        action: 'reject',
        sourceIp: '10.244.1.5',
        sourcePort: 51000,
        destinationIp: '192.0.2.25',
        destinationPort: 25,
        protocol: 'tcp',
        contextType: 'Virtual Server',
        contextName: '/k8s_demo_prod/egress/egress_vs',
        policy: '/Common/Shared/k8s_demo_prod_global_policy_staged',
        policyType: 'Staged',
        rule: 'c_no-smtp_tcp',
        routeDomain: 2,
        vlan: '/Common/internal',
        dropReason: 'Policy',
        destinationFqdn: 'mail.example.net',
      },
    });
  });

  test('the same pairs as RFC 5424 structured data', () => {
    const line =
      '<134>1 2026-03-02T09:30:00Z bigip1 tmm - - [F5@12276 action="Accept" source_ip="10.244.1.5" dest_ip="10.96.0.10" dest_port="53" ip_protocol="UDP" acl_rule_name="c_allow-dns_udp" context_name="/Common/Shared/k8s_demo\\]x"]';
    expect(parser.parse(line)).toEqual({ ok: false, reason: 'bad-name' });
    const ok =
      '<134>1 2026-03-02T09:30:00Z bigip1 tmm - - [F5@12276 action="Accept" source_ip="10.244.1.5" dest_ip="10.96.0.10" dest_port="53" ip_protocol="UDP" acl_rule_name="c_allow-dns_udp"]';
    expect(parser.parse(ok)).toEqual({
      ok: true,
      event: {
        time: '2026-03-02T09:30:00.000Z',
        device: 'bigip1',
        action: 'accept',
        sourceIp: '10.244.1.5',
        destinationIp: '10.96.0.10',
        destinationPort: 53,
        protocol: 'udp',
        rule: 'c_allow-dns_udp',
      },
    });
  });

  test('field-list values without quotes read the same', () => {
    expect(parser.parse(fieldListLine().replace(/"/g, ''))).toEqual(parser.parse(fieldListLine()));
  });

  test('a UTF-8 byte-order mark before MSG is allowed (RFC 5424 6.4)', () => {
    const line = fieldListLine().replace(' - "Mar', ' - \ufeff"Mar');
    expect(parser.parse(line).ok).toBe(true);
  });
});

test('a NAT event of the rendered NAT log profile (same publisher) is rejected and counted, never read as a firewall event', () => {
  const values: Readonly<Record<string, string>> = {
    'event-name': 'LSN_ADD',
    timestamp: '1772443800250',
    'context-name': '/k8s_demo_prod/egress/egress_vs',
    'route-domain': '0',
    protocol: 'TCP',
    'src-ip': '10.244.1.5',
    'src-port': '40000',
    'translated-src-ip': '192.0.2.220',
    'translated-src-port': '50000',
    'dest-ip': '203.0.113.5',
    'dest-port': '22',
    'translated-route-domain': '0',
  };
  const msg = NAT_LOG_FIELDS.map((f) => `"${values[f]}"`).join(NAT_LOG_DELIMITER);
  expect(parser.parse(`<134>1 2026-03-02T09:30:00.250Z bigip1.example.net tmm - 23003137 - ${msg}`)).toEqual({
    ok: false,
    reason: 'bad-action',
  });
});

describe('malformed and hostile lines are rejected with a reason', () => {
  const cases: [string, string, string][] = [
    ['over-long', `${fieldListLine()}${' '.repeat(9000)}`, 'too-long'],
    ['an escape sequence', fieldListLine({ contextName: '/a/\u001b[31mred' }), 'control-character'],
    ['a bidi override', fieldListLine({ rule: 'c_\u202eevil' }), 'control-character'],
    ['a NUL', fieldListLine().replace('Drop', 'Dr\u0000op'), 'control-character'],
    ['no header', '"Mar  2 2026 09:30:00","Drop"', 'not-syslog'],
    ['RFC 3164 header', '<134>Mar  2 09:30:00 bigip1 tmm[123]: Drop', 'not-syslog'],
    ['facility out of range', fieldListLine().replace('<134>', '<999>'), 'not-syslog'],
    ['February 30', fieldListLine({ time: '2026-02-30T09:30:00Z' }), 'bad-timestamp'],
    ['hour 24', fieldListLine({ time: '2026-03-02T24:00:00Z' }), 'bad-timestamp'],
    ['no zone', fieldListLine({ time: '2026-03-02T09:30:00' }), 'bad-timestamp'],
    ['bad date_time', fieldListLine({ dateTime: 'yesterday' }), 'bad-timestamp'],
    ['a field short', fieldListLine().replace(/,"0"$/, ''), 'bad-field-count'],
    ['a field too many', `${fieldListLine()},"x"`, 'bad-field-count'],
    ['a quote inside a value', fieldListLine({ rule: 'a"b' }), 'bad-field-count'],
    ['JSON injection in a name', fieldListLine({ rule: '","verdict":"allow' }), 'bad-field-count'],
    ['markup in a name', fieldListLine({ contextName: '<script>' }), 'bad-name'],
    ['spaces in a rule name', fieldListLine({ rule: 'c allow' }), 'bad-name'],
    ['port 65536', fieldListLine({ dstPort: '65536' }), 'bad-port'],
    ['negative port', fieldListLine({ srcPort: '-1' }), 'bad-port'],
    ['port with exponent', fieldListLine({ dstPort: '4e2' }), 'bad-port'],
    ['port with leading zero', fieldListLine({ dstPort: '0443' }), 'bad-port'],
    ['address 256.1.1.1', fieldListLine({ dst: '256.1.1.1' }), 'bad-address'],
    ['host name as address', fieldListLine({ src: 'pod.local' }), 'bad-address'],
    ['route domain in the address out of range', fieldListLine({ src: '10.0.0.1%70000' }), 'bad-address'],
    ['unknown action', fieldListLine({ action: 'Permit' }), 'bad-action'],
    ['protocol with a space', fieldListLine({ protocol: 'T CP' }), 'bad-protocol'],
    ['protocol number 300', fieldListLine({ protocol: '300' }), 'bad-protocol'],
    ['route domain 1e3', fieldListLine({ routeDomain: '1e3' }), 'bad-route-domain'],
    ['no addresses', '<134>1 2026-03-02T09:30:00Z bigip1 tmm - - - action="Drop"', 'not-afm-event'],
    ['unterminated structured data', '<134>1 2026-03-02T09:30:00Z bigip1 tmm - - [F5@1 action="Drop"', 'not-syslog'],
  ];
  test.each(cases)('%s', (_name, line, reason) => {
    expect(parser.parse(line)).toEqual({ ok: false, reason });
  });

  test('arbitrary text never throws; what parses becomes one JSON line that round-trips, with printable ASCII names', () => {
    const piece = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(
        '"',
        ',',
        '=',
        '[',
        ']',
        '\\',
        '%',
        '\n',
        '\u2028',
        '"Drop"',
        'action="Accept"',
        'source_ip="10.244.1.5"',
        'dest_ip="::1"',
        ' - ',
      ),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.nat(12), (pieces, at) => {
        const base = fieldListLine();
        const cut = Math.min(base.length, 40 + at * 20);
        for (const line of [
          pieces.join(''),
          `${base.slice(0, cut)}${pieces.join('')}${base.slice(cut)}`,
          `<134>1 - h a - - - ${pieces.join('')}`,
        ]) {
          const r = parser.parse(line);
          if (!r.ok) {
            expect(REJECT_REASONS).toContain(r.reason);
            continue;
          }
          const text = recordLine(enrich(r.event, undefined, undefined));
          expect(text.endsWith('\n')).toBe(true);
          expect(text.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
          expect(JSON.parse(text).source.ip).toBe(r.event.sourceIp);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('every field value from a wide alphabet either parses to exactly itself or is rejected', () => {
    const alphabet = fc.constantFrom(...'aZ09_-./:~ "\'<>&\\,=%\t\u00e9\u202e\u0007{}'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, minLength: 1, maxLength: 30 }), (value) => {
        const r = parser.parse(fieldListLine({ rule: value }));
        if (r.ok) {
          expect(r.event.rule).toBe(value);
          expect(value).toMatch(/^[A-Za-z0-9_.\-/:~]+$/);
        }
      }),
      { numRuns: 400 },
    );
  });
});
