/**
 * The firewall capabilities beyond plain rules: logging, audit mode, bandwidth limits, time
 * windows, device security services and the FQDN resolver, each from props to AS3/tmsh.
 */
import { deviceCommands, renderAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { buildDevice, DeviceInput } from '../../lib/policy/device';
import { EgressSnat } from '../../lib/policy/device';
import { EgressPolicyError } from '../../lib/policy/errors';
import type { DeviceModel, RuleModel } from '../../lib/policy/model';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import { EgressPort as P } from '../../lib/policy/port';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { testDevice } from '../support/device';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/stack/${r.name}`, action: 'ALLOW', destinations: [D.cidr('192.0.2.0/24')], ...r });

const compile = (rules: RuleModel[], device: DeviceModel = testDevice()) => compilePolicy({ device, externalServices: [], rules });
const declarationOf = (rules: RuleModel[], device?: DeviceModel) => (renderAs3(compile(rules, device)) as any).declaration;

const device = (props: Omit<DeviceInput, 'path' | 'clusterName'>) =>
  buildDevice({ path: 'app/stack/Bigip', clusterName: 'prod', ...props });
const issues = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof EgressPolicyError) return e.issues.map((i) => `${i.field}: ${i.message} (got ${i.value})`);
    throw e;
  }
  throw new Error('expected an EgressPolicyError');
};

describe('logging', () => {
  test('by default events go to the local database through a profile on the egress virtual server', () => {
    const app = declarationOf([rule({ level: 'cluster', name: 'r', logging: true })]).k8s_prod.egress;
    expect(app.log_publisher).toEqual({ class: 'Log_Publisher', destinations: [{ bigip: '/Common/local-db' }] });
    expect(app.log_profile.network).toMatchObject({
      publisher: { use: 'log_publisher' },
      logRuleMatchAccepts: true,
      logRuleMatchDrops: true,
      logRuleMatchRejects: true,
      logIpErrors: true,
      logTcpErrors: true,
      logTcpEvents: false,
      storageFormat: { delimiter: ',', fields: expect.arrayContaining(['acl-rule-name', 'src-ip', 'dest-ip', 'route-domain']) },
    });
    expect(app.egress_vs.securityLogProfiles).toEqual([{ use: 'log_profile' }]);
    expect(
      declarationOf([rule({ level: 'cluster', name: 'r', logging: true })]).Common.Shared.k8s_prod_vs_policy.rules.at(-1),
    ).toMatchObject({ name: 'default', loggingEnabled: true });
  });

  test('remote syslog servers get a high-speed-logging pool and RFC 5424 formatting', () => {
    const d = device({
      logging: {
        syslogServers: ['192.0.2.50:514', '192.0.2.51:514', '[2001:db8::50]:6514'],
        syslogTransport: 'udp',
        logTcpEvents: true,
        fields: ['date-time', 'action', 'acl-rule-name'],
      },
    });
    const app = declarationOf([rule({ level: 'cluster', name: 'r' })], { ...d, dnsResolver: undefined }).k8s_prod.egress;
    expect(app.log_pool.members).toEqual([
      { servicePort: 514, serverAddresses: ['192.0.2.50', '192.0.2.51'] },
      { servicePort: 6514, serverAddresses: ['2001:db8::50'] },
    ]);
    expect(app.log_hsl).toEqual({ class: 'Log_Destination', type: 'remote-high-speed-log', protocol: 'udp', pool: { use: 'log_pool' } });
    expect(app.log_syslog).toEqual({
      class: 'Log_Destination',
      type: 'remote-syslog',
      format: 'rfc5424',
      remoteHighSpeedLog: { use: 'log_hsl' },
    });
    // With remote servers the local database is off unless asked for.
    expect(app.log_publisher.destinations).toEqual([{ use: 'log_syslog' }]);
    expect(app.log_profile.network).toMatchObject({
      logTcpEvents: true,
      storageFormat: { fields: ['date-time', 'action', 'acl-rule-name'], delimiter: ',' },
    });
  });

  test('bad logging settings name the field, the value and the fix', () => {
    expect(
      issues(() => device({ logging: { syslogServers: ['192.0.2.50', '192.0.2.51:70000', 'syslog.example:514'], fields: ['src-mac'] } })),
    ).toEqual([
      'logging.syslogServers[0]: write a syslog server as "address:port", or "[IPv6-address]:port" (got "192.0.2.50")',
      'logging.syslogServers[1]: the port must be from 1 to 65535 (got "192.0.2.51:70000")',
      'logging.syslogServers[2]: not a valid IPv4 or IPv6 address; write it like "192.0.2.10" or "2001:db8::10" (got "syslog.example")',
      expect.stringMatching(/^logging.fields\[0\]: must be one of acl-policy-name, .* \(got "src-mac"\)$/),
    ]);
  });
});

describe('audit mode', () => {
  const rules = () => [
    rule({ level: 'cluster', name: 'dns', action: 'ALLOW_FINAL' }),
    rule({ level: 'cluster', name: 'smtp', action: 'DENY', audit: true, ports: [P.SMTP] }),
    rule({ level: 'namespace', name: 'web', namespace: 'web' }),
    rule({ level: 'service', name: 'api', namespace: 'web', service: 'api', action: 'REJECT', audit: true }),
  ];

  test('audit rules are staged only; each context gets a complete staged policy', () => {
    const decl = declarationOf(rules());
    const shared = decl.Common.Shared;
    expect(shared.k8s_prod_cluster_rules.rules.map((r: any) => r.name)).toEqual(['c_dns_any']);
    expect(shared.k8s_prod_cluster_rules_staged.rules.map((r: any) => r.name)).toEqual(
      ['c_smtp_tcp', 'c_dns_any'].sort((a, b) => (a < b ? -1 : 1)),
    );
    expect(shared.k8s_prod_global_policy_staged.rules).toEqual([{ use: 'k8s_prod_cluster_rules_staged' }]);
    // The namespace level has no audit rule: its staged policy reuses the enforced list.
    expect(shared.k8s_prod_namespace_rules_staged).toBeUndefined();
    expect(shared.k8s_prod_rd0_policy_staged.rules).toEqual([{ use: 'k8s_prod_namespace_rules' }]);
    expect(shared.k8s_prod_service_rules.rules).toEqual([]);
    expect(shared.k8s_prod_vs_policy.rules.map((r: any) => r.use ?? r.name)).toEqual([
      'k8s_prod_service_rules',
      'k8s_prod_carried_allow',
      'default',
    ]);
    expect(shared.k8s_prod_vs_policy_staged.rules.map((r: any) => r.use ?? r.name)).toEqual([
      'k8s_prod_service_rules_staged',
      'k8s_prod_carried_allow',
      'default',
    ]);
    expect(decl.k8s_prod.egress.egress_vs.policyFirewallStaged).toEqual({ use: '/Common/Shared/k8s_prod_vs_policy_staged' });
  });

  test('tmsh sets the resolver, attaches the global and staged route-domain policies and saves; destroy releases them', () => {
    expect(deviceCommands(compile(rules()))).toEqual({
      apply: [
        'modify security firewall global-fqdn-policy dns-resolver /Common/egress-resolver',
        'save sys config',
        'modify security firewall global-rules enforced-policy /Common/Shared/k8s_prod_global_policy staged-policy /Common/Shared/k8s_prod_global_policy_staged',
        'modify net route-domain /Common/0 fw-staged-policy /Common/Shared/k8s_prod_rd0_policy_staged',
        'save sys config',
      ],
      destroy: [
        'modify net route-domain /Common/0 fw-staged-policy none',
        'modify security firewall global-rules enforced-policy none staged-policy none',
        'modify security firewall global-fqdn-policy dns-resolver none',
        'save sys config',
      ],
    });
  });

  test('device audit mode enforces nothing and stages everything with the real default', () => {
    const decl = declarationOf(rules(), testDevice({ audit: true }));
    // Every rule list stays (empty), so references never dangle; nothing in them is enforced.
    expect(decl.Common.Shared.k8s_prod_cluster_rules.rules).toEqual([]);
    expect(decl.Common.Shared.k8s_prod_global_policy.rules).toEqual([{ use: 'k8s_prod_cluster_rules' }]);
    expect(decl.Common.Shared.k8s_prod_vs_policy.rules.at(-1)).toEqual({
      name: 'default',
      action: 'accept',
      protocol: 'any',
      loggingEnabled: true,
    });
    expect(decl.Common.Shared.k8s_prod_vs_policy_staged.rules.at(-1)).toMatchObject({ name: 'default', action: 'drop' });
  });

  test('without audit rules the staged policies still exist and reference the enforced lists, so no attachment ever changes (B2)', () => {
    const decl = declarationOf([
      rule({ level: 'cluster', name: 'dns' }),
      rule({ level: 'service', name: 'api', namespace: 'web', service: 'api' }),
    ]);
    const shared = decl.Common.Shared;
    expect(
      Object.keys(shared)
        .filter((k) => k.includes('staged'))
        .sort(),
    ).toEqual(['k8s_prod_global_policy_staged', 'k8s_prod_rd0_policy_staged', 'k8s_prod_vs_policy_staged']);
    expect(shared.k8s_prod_global_policy_staged.rules).toEqual(shared.k8s_prod_global_policy.rules);
    expect(shared.k8s_prod_rd0_policy_staged.rules).toEqual(shared.k8s_prod_rd0_policy.rules);
    expect(shared.k8s_prod_vs_policy_staged.rules).toEqual(shared.k8s_prod_vs_policy.rules);
    expect(decl.k8s_prod.egress.egress_vs.policyFirewallStaged).toEqual({ use: '/Common/Shared/k8s_prod_vs_policy_staged' });
    // Turning audit on or off changes the policies' content, never what is attached where.
    expect(deviceCommands(compile([rule({ level: 'cluster', name: 'dns' })]))).toEqual(deviceCommands(compile(rules())));
    expect(deviceCommands(compile(rules(), testDevice({ audit: true })))).toEqual(deviceCommands(compile(rules())));
  });
});

describe('bandwidth limits', () => {
  test('a Bandwidth_Control_Policy attached on match by a generated iRule', () => {
    const decl = declarationOf([
      rule({ level: 'namespace', name: 'backup', namespace: 'ops', bandwidthLimit: { maxBandwidth: 200, unit: 'Mbps' } }),
      rule({
        level: 'service',
        name: 'sync',
        namespace: 'ops',
        service: 'sync',
        action: 'ALLOW_FINAL',
        bandwidthLimit: { maxBandwidth: 5 },
      }),
    ]);
    const shared = decl.Common.Shared;
    expect(shared.k8s_prod_bwc_n_ops_backup).toEqual({
      class: 'Bandwidth_Control_Policy',
      remark: 'bandwidth of rule namespace/ops/backup',
      maxBandwidth: 200,
      maxBandwidthUnit: 'Mbps',
    });
    expect(shared.k8s_prod_bwc_n_ops_backup_attach).toEqual({
      class: 'iRule',
      remark: 'attaches the bandwidth policy of namespace/ops/backup',
      expand: false,
      // BWC::policy attach takes the policy's name without a path (tmsh reference); it sits in the iRule's folder.
      iRule: 'when FLOW_INIT {\n    BWC::policy attach k8s_prod_bwc_n_ops_backup\n}\n',
    });
    expect(shared.k8s_prod_namespace_rules.rules[0].iRule).toEqual({ use: 'k8s_prod_bwc_n_ops_backup_attach' });
    // The copy carried to the virtual server does not attach the policy a second time.
    expect(shared.k8s_prod_carried_allow.rules[0].iRule).toBeUndefined();
    // Service rules live in /Common/Shared too, with their bandwidth objects.
    expect(shared.k8s_prod_bwc_s_ops_sync).toMatchObject({ maxBandwidth: 5, maxBandwidthUnit: 'Mbps' });
    expect(shared.k8s_prod_service_rules.rules[0].iRule).toEqual({ use: 'k8s_prod_bwc_s_ops_sync_attach' });
    expect(shared.k8s_prod_bwc_s_ops_sync_attach.iRule).toBe('when FLOW_INIT {\n    BWC::policy attach k8s_prod_bwc_s_ops_sync\n}\n');
  });

  test.each([
    [
      { action: 'DENY', bandwidthLimit: { maxBandwidth: 10 } },
      /bandwidthLimit: a DENY rule lets nothing through, so it cannot limit bandwidth; remove bandwidthLimit or make the rule ALLOW or ALLOW_FINAL/,
    ],
    [
      { bandwidthLimit: { maxBandwidth: 0 } },
      /bandwidthLimit.maxBandwidth: a BIG-IP bandwidth policy limits to 1 Mbps at least and 320 Gbps at most: write a whole number from 1 to 320000 in Mbps \(the default unit\), or choose another unit \(got 0\)/,
    ],
    [
      { bandwidthLimit: { maxBandwidth: 321, unit: 'Gbps' } },
      /bandwidthLimit.maxBandwidth: .* a whole number from 1 to 320 in Gbps, or choose another unit \(got 321\)/,
    ],
    [
      { bandwidthLimit: { maxBandwidth: 999, unit: 'Kbps' } },
      /bandwidthLimit.maxBandwidth: .* a whole number from 1000 to 320000000 in Kbps, or choose another unit \(got 999\)/,
    ],
    [
      { bandwidthLimit: { maxBandwidth: 4294967295 } },
      /bandwidthLimit.maxBandwidth: .* a whole number from 1 to 320000 in Mbps \(the default unit\), or choose another unit \(got 4294967295\)/,
    ],
    [
      { bandwidthLimit: { maxBandwidth: 2.5 } },
      /bandwidthLimit.maxBandwidth: write a whole number, from 1 Mbps to 320 Gbps in its unit, such as 100 \(got 2.5\)/,
    ],
    [
      { bandwidthLimit: { maxBandwidth: 10, unit: 'MB' } },
      /bandwidthLimit.unit: must be a BandwidthUnit \(bps, Kbps, Mbps or Gbps\) \(got "MB"\)/,
    ],
    [{ bandwidthLimit: { max: 10 } }, /bandwidthLimit.maxBandwidth/],
  ])('refuses %p', (props, message) => {
    expect(issues(() => rule({ level: 'cluster', name: 'r', ...(props as object) })).join('\n')).toMatch(message);
  });
});

describe('time windows and expiry', () => {
  test('a windowed rule gets its own source list, which the sync plan gates', () => {
    const windowed = rule({
      level: 'namespace',
      name: 'vendor',
      namespace: 'ops',
      schedule: { daysOfWeek: ['monday', 'friday'] as any, startTime: '09:00', endTime: '17:30', timeZone: 'Europe/Berlin' },
      expiresAt: '2099-06-30T00:00:00Z',
    });
    const plain = rule({ level: 'namespace', name: 'web', namespace: 'ops' });
    const compiled = compile([windowed, plain]);
    const byKey = new Map(compiled.levels.namespace.map((r) => [r.key, r]));
    const vendor = byKey.get('namespace/ops/vendor')!;
    const web = byKey.get('namespace/ops/web')!;
    expect(web.sourceList).toBe('/Common/Shared/k8s_prod_src_ns_ops');
    expect(vendor.sourceList).toMatch(/^\/Common\/Shared\/k8s_prod_src_ns_ops_w[0-9a-f]{16}$/);
    const list = buildSyncPlan(compiled).lists.find((l) => l.path === vendor.sourceList)!;
    expect(list).toMatchObject({
      rules: ['namespace/ops/vendor'],
      schedule: { daysOfWeek: ['monday', 'friday'], startTime: '09:00', endTime: '17:30', timeZone: 'Europe/Berlin' },
      expiresAt: '2099-06-30T00:00:00Z',
    });
  });

  test.each([
    [{ schedule: { startTime: '17:00', endTime: '09:00' } }, /schedule.endTime: must be after startTime 17:00/],
    [{ schedule: { startTime: '9:00', endTime: '17:00' } }, /schedule.startTime: must be HH:MM on a 24-hour clock/],
    [{ schedule: { startTime: '09:00', endTime: '17:00', timeZone: 'Europe/Atlantis' } }, /schedule.timeZone: is not an IANA time zone/],
    [{ schedule: { startTime: '09:00', endTime: '17:00', daysOfWeek: ['funday'] } }, /schedule.daysOfWeek\[0\]: must be a Weekday/],
    [{ expiresAt: '2099-01-01' }, /expiresAt: must be an ISO-8601 instant with a zone/],
  ])('refuses %p', (props, message) => {
    expect(issues(() => rule({ level: 'cluster', name: 'r', ...(props as object) })).join('\n')).toMatch(message);
  });
});

describe('device security services', () => {
  test('IP Intelligence and Protocol Inspection attach to the egress virtual server by reference', () => {
    const vs = declarationOf(
      [rule({ level: 'cluster', name: 'r' })],
      testDevice({ ipIntelligencePolicy: '/Common/egress-ipi', protocolInspectionProfile: '/Common/egress-inspection' }),
    ).k8s_prod.egress.egress_vs;
    expect(vs.ipIntelligencePolicy).toEqual({ bigip: '/Common/egress-ipi' });
    expect(vs.profileProtocolInspection).toEqual({ bigip: '/Common/egress-inspection' });
  });

  test.each([
    [
      { ipIntelligencePolicy: 'egress-ipi' },
      /ipIntelligencePolicy: must be the BIG-IP path of an IP Intelligence policy, such as "\/Common\/an-IP-Intelligence-policy"/,
    ],
    [{ protocolInspectionProfile: '/Common/x y' }, /protocolInspectionProfile: must be the BIG-IP path/],
    [{ snat: EgressSnat.pool(['192.0.2.300']) }, /snat: SNAT pool address: not a valid IPv4 or IPv6 address/],
    [{ snat: EgressSnat.pool([]) }, /snat: a SNAT pool needs at least one address/],
    [{ dnsResolver: 'resolver' }, /dnsResolver: must be the BIG-IP path of a DNS resolver/],
  ])('refuses %p', (props, message) => {
    expect(issues(() => device(props as any)).join('\n')).toMatch(message);
  });
});

describe('FQDN destinations', () => {
  test('the configured resolver is set first, before anything else the device holds (B5)', () => {
    const apply = deviceCommands(compile([rule({ level: 'cluster', name: 'n', destinations: [D.fqdn('api.stripe.com')] })])).apply;
    expect(apply.slice(0, 2)).toEqual([
      'modify security firewall global-fqdn-policy dns-resolver /Common/egress-resolver',
      'save sys config',
    ]);
    expect(
      deviceCommands(compile([rule({ level: 'cluster', name: 'ip' })], testDevice({ dnsResolver: undefined }))).apply.join('\n'),
    ).not.toMatch(/global-fqdn-policy/);
  });

  test('fail synth without a resolver, naming the device and the fix', () => {
    expect(
      issues(() =>
        compile([rule({ level: 'cluster', name: 'n', destinations: [D.fqdn('*.example.com')] })], testDevice({ dnsResolver: undefined })),
      ),
    ).toEqual([
      expect.stringMatching(
        /^dnsResolver: FQDN destinations are resolved by the BIG-IP, which needs a DNS resolver .* set dnsResolver \(on the AfmDevice, or on its SharedBigip\) to the path of a net dns-resolver/,
      ),
    ]);
  });
});

describeWithAs3Schema('capabilities against the AS3 schema', () => {
  test('a declaration using every capability validates', () => {
    const d = {
      ...device({
        logging: { syslogServers: ['192.0.2.50:514'], localDatabase: true },
        ipIntelligencePolicy: '/Common/egress-ipi',
        protocolInspectionProfile: '/Common/egress-inspection',
        snat: EgressSnat.pool(['192.0.2.200', '192.0.2.201']),
        routeDomain: 2,
        dnsResolver: '/Common/r',
      }),
    };
    const result = as3Validator()!.validate(
      renderAs3(
        compile(
          [
            rule({ level: 'cluster', name: 'a', audit: true, bandwidthLimit: { maxBandwidth: 1, unit: 'Gbps' } }),
            rule({ level: 'namespace', name: 'b', namespace: 'x', schedule: { startTime: '08:00', endTime: '18:00' } }),
            rule({
              level: 'service',
              name: 'c',
              namespace: 'x',
              service: 's',
              bandwidthLimit: { maxBandwidth: 2000, unit: 'Kbps' },
              destinations: [D.fqdn('a.example.com')],
            }),
          ],
          d,
        ),
      ),
    );
    expect(result.errors).toEqual([]);
  });
});
