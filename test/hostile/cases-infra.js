'use strict';
/**
 * Generated cases for the infrastructure constructs: AfmDevice, SharedBigip, EgressController,
 * EgressGuardrails and EgressCrdStack, and the value objects they take (EgressSnat,
 * BigipCredentials, EgressDestination/EgressPort in guardrails).
 */
const V = require('./values');
const O = require('./check-output');
const { propCases, unknownKeyCases, entry, HEX64 } = require('./cases-props');

const { judge, repeat } = V;

const NEVER_IN_TEXT = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\$\{|%\{/;
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const BIGIP_PATH = /^\/[A-Za-z][0-9A-Za-z_.-]*(\/[A-Za-z0-9][0-9A-Za-z_.-]*)+$/;
const TENANT = /^[A-Za-z][0-9A-Za-z_]*$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Only the form the API server stores is legal: anything else comes back rewritten and the
// kubernetes provider reports an inconsistent result after apply.
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const { canonicalQuantity } = require('../../lib/k8s/quantity');
const isCanonicalQuantity = (v) => typeof v === 'string' && QUANTITY.test(v) && canonicalQuantity(v) === v && v !== '0';
const IMAGE = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** A host name or IPv4 address (a name whose last label is all digits is neither), or [IPv6]. */
function hostJudge(v) {
  if (typeof v !== 'string') return 'reject';
  if (/^\[[0-9A-Fa-f:.]+\]$/.test(v)) return 'accept';
  if (IPV4.test(v)) return 'accept';
  if (HOSTNAME.test(v) && !/^\d+$/.test(v.split('.').pop())) return 'accept';
  return 'reject';
}

/** Paths on the machine that runs Terraform: plain ones are legal; Terraform syntax and control characters are not. */
function pathJudge(v) {
  if (typeof v !== 'string' || v === '' || NEVER_IN_TEXT.test(v)) return 'reject';
  return /^[A-Za-z0-9_./~-]+$/.test(v) ? 'accept' : 'either';
}

function urlJudge(v) {
  if (typeof v !== 'string') return 'reject';
  const m = /^https:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:@\s]+)(?::(\d{1,5}))?\/?$/.exec(v);
  if (!m) return 'reject';
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return 'reject';
  return hostJudge(m[1]);
}

function imageJudge(v) {
  if (typeof v !== 'string' || v === '' || NEVER_IN_TEXT.test(v) || /\s/.test(v)) return 'reject';
  return IMAGE.test(v) ? 'accept' : 'either';
}

const hostValues = () => [
  entry('fqdn', 'bigip.example.net', 'accept', 'legal'),
  entry('ipv4', '192.0.2.1', 'accept', 'legal'),
  entry('bracketed-ipv6', '[2001:db8::1]', 'accept', 'legal'),
  entry('mixed-case', 'BIGIP.Example.NET', 'accept', 'legal'),
  entry('bare-ipv6', '2001:db8::1', 'either', 'malformed'),
  entry('scheme', 'https://bigip.example.net', 'reject', 'malformed'),
  entry('with-port', 'bigip.example.net:443', 'reject', 'malformed'),
  entry('with-path', 'bigip.example.net/mgmt', 'reject', 'malformed'),
  entry('credentials', 'admin:secret@bigip.example.net', 'reject', 'injection'),
  entry('interpolation', '${var.bigip}', 'reject', 'injection'),
  entry('leading-space', ' bigip.example.net', 'reject', 'malformed'),
  entry('newline', 'bigip.example.net\n', 'reject', 'injection'),
  entry('cyrillic-i', 'bіgip.example.net', 'reject', 'unicode'),
  entry('leading-dash', '-bigip', 'reject', 'malformed'),
  entry('ipv4-999', '999.999.999.999', 'reject', 'impossible', { why: '999.999.999.999 is no address' }),
  entry('ipv4-256', '256.0.0.1', 'reject', 'impossible', { why: '256.0.0.1 is no address' }),
  entry('ipv4-three-parts', '1.2.3', 'reject', 'impossible', { why: '1.2.3 is neither an address nor a host name' }),
  entry('label-64', `${repeat('a', 64)}.example.net`, 'reject', 'limits'),
];

const pathValues = () => [
  entry('absolute', '/etc/ssl/bigip-ca.pem', 'accept', 'legal'),
  entry('relative', 'certs/ca.pem', 'accept', 'legal'),
  entry('home', '~/ca.pem', 'accept', 'legal'),
  entry('interpolation', '${file("/etc/passwd")}', 'reject', 'injection', { why: 'Terraform evaluates ${...} in cdk.tf.json' }),
  entry('variable', '${var.ca_path}', 'reject', 'injection', { why: 'Terraform evaluates ${...} in cdk.tf.json' }),
  entry('directive', '%{ for x in ["a"] }x%{ endfor }', 'reject', 'injection', { why: 'Terraform evaluates %{...} in cdk.tf.json' }),
  entry('newline', '/etc/ssl/ca.pem\n', 'reject', 'injection'),
  entry('nul', '/etc/ssl/ca.pem\u0000.txt', 'reject', 'injection'),
  entry('terminal-escape', '/etc/\u001b[2Jca.pem', 'reject', 'injection'),
  entry('space', '/etc/ssl/my ca.pem', 'either', 'malformed'),
];

const bigipPathValues = (what) => [
  entry('path', `/Common/${what}`, 'accept', 'legal'),
  entry('nested-path', `/Common/sub/${what}.v2`, 'accept', 'limits'),
  entry('bare-name', what, 'reject', 'malformed'),
  entry('space', `/Common/a ${what}`, 'reject', 'malformed'),
  entry('semicolon', `/Common/${what};delete sys`, 'reject', 'injection'),
  entry('interpolation', '/Common/${var.x}', 'reject', 'injection'),
  entry('newline', `/Common/${what}\n`, 'reject', 'injection'),
  entry('trailing-slash', '/Common/', 'reject', 'malformed'),
  entry('cyrillic', `/Common/${what}а`, 'reject', 'unicode'),
];

function credentialValues(L) {
  const C = L.BigipCredentials;
  const vars = (user, pass) => (out) => [
    ...(out.variables[user] ? [] : [`no Terraform variable ${user}`]),
    ...(out.variables[pass] && out.variables[pass].sensitive ? [] : [`no sensitive Terraform variable ${pass}`]),
  ];
  return [
    entry('from-variables', () => C.fromVariables(), 'accept', 'legal', { verify: vars('k8s_prod_username', 'k8s_prod_password') }),
    entry(
      'from-variables-named',
      () => C.fromVariables({ usernameVariable: 'bigip_user', passwordVariable: 'bigip-pass' }),
      'accept',
      'legal',
      { verify: vars('bigip_user', 'bigip-pass') },
    ),
    entry('from-environment', () => C.fromEnvironment(), 'accept', 'legal', {
      verify: (out) =>
        out.providers.some((p) => p.password !== undefined || p.username !== undefined) ? ['credentials appear in the provider'] : [],
    }),
    entry('literal-object', { username: 'admin', password: 'hunter2' }, 'reject', 'wrong-type', { why: 'a literal password object' }),
    entry('forged-bind', { _bind: () => ({ username: 'admin', password: 'hunter2' }) }, 'reject', 'wrong-type', {
      why: 'a forged credentials object put a literal password into cdk.tf.json',
    }),
    entry('prototype-only-instance', () => Object.create(C.prototype), 'reject', 'wrong-type'),
    entry('from-variables-null', () => C.fromVariables(null), 'reject', 'wrong-type'),
    entry('from-variables-string', () => C.fromVariables('bigip'), 'reject', 'wrong-type'),
    entry('from-variables-interpolation', () => C.fromVariables({ usernameVariable: '${var.x}' }), 'reject', 'injection'),
    entry('from-variables-space', () => C.fromVariables({ passwordVariable: 'big ip' }), 'reject', 'malformed'),
    entry('from-variables-number', () => C.fromVariables({ usernameVariable: 5 }), 'reject', 'wrong-type'),
    entry('from-variables-empty', () => C.fromVariables({ usernameVariable: '' }), 'reject', 'malformed'),
    entry(
      'from-variables-same-name',
      () => C.fromVariables({ usernameVariable: 'bigip', passwordVariable: 'bigip' }),
      'reject',
      'duplicates',
    ),
    entry('from-variables-unknown-key', () => C.fromVariables({ userVariable: 'bigip_user' }), 'reject', 'unknown-key', {
      why: 'the misspelled "userVariable" was dropped',
    }),
    entry('from-variables-literal-password', () => C.fromVariables({ password: 'hunter2' }), 'reject', 'unknown-key', {
      why: 'a literal "password" key was dropped without a word',
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// AfmDevice

function deviceCases(L, add) {
  const D = L.EgressDestination;
  const P = L.EgressPort;
  const S = L.EgressSnat;
  const base = (ctx, spec) => {
    const props = ctx.deviceProps();
    if (spec.withoutTls) delete props.tlsCaBundlePath;
    return props;
  };
  const build = (ctx, props) => {
    const device = new L.AfmDevice(ctx.stack, 'Bigip', props);
    ctx.tenant = device.tenant;
    new L.ClusterEgressRule(ctx.stack, 'AllowDns', {
      device,
      action: 'ALLOW_FINAL',
      destinations: [D.address('10.96.0.10'), D.fqdn('time.example.com')],
      ports: [P.DNS_UDP],
    });
  };
  const tenantDecl = (out, ctx) => {
    for (const d of O.decls(out)) if (d[ctx.tenant]) return d[ctx.tenant];
    return undefined;
  };
  const app = (out, ctx) => {
    const t = tenantDecl(out, ctx);
    return t && Object.values(t).find((x) => x && x.class === 'Application');
  };
  const vs = (out, ctx) => {
    const a = app(out, ctx);
    return a && a.egress_vs;
  };
  /** An object of the device in /Common/Shared (`<tenant>_<name>`), where the context policies live. */
  const shared = (out, ctx, name) => {
    for (const d of O.decls(out)) {
      const item = d.Common && d.Common.Shared && d.Common.Shared[`${ctx.tenant}_${name}`];
      if (item) return item;
    }
    return undefined;
  };
  const provider = (out) => out.providers[0] || {};
  /** Sources of the virtual addresses ([destination, source] pairs): the pod CIDRs. */
  const vsSources = (out, ctx) => (vs(out, ctx).virtualAddresses || []).filter(Array.isArray).map((pair) => O.canonicalAddress(pair[1]));
  const canon = (list) => list.map((a) => O.canonicalAddress(a));

  const specs = [
    {
      prop: 'clusterName',
      judge: judge.dnsLabel(40),
      values: V.dnsLabelValues(40).map(([l, v, c]) => entry(l, v, undefined, c)),
      render: (out, v, ctx) => [
        ...O.eq(ctx.tenant, `k8s_${v.replace(/-/g, '_')}`, 'tenant'),
        ...O.crs(out, 'ClusterEgressRule').flatMap((c) => O.eq(c.metadata.labels[`${O.API}/cluster`], v, 'CR cluster label')),
      ],
    },
    { prop: 'address', judge: hostJudge, values: hostValues(), render: (out, v) => O.eq(provider(out).address, v, 'provider address') },
    {
      prop: 'port',
      optional: true,
      judge: judge.int(1, 65535),
      values: [
        entry('1', 1, 'accept', 'limits'),
        entry('8443', 8443, 'accept', 'legal'),
        entry('65535', 65535, 'accept', 'limits'),
        entry('0', 0, 'reject', 'out-of-range'),
        entry('65536', 65536, 'reject', 'out-of-range'),
        entry('99999', 99999, 'reject', 'out-of-range'),
        entry('negative', -1, 'reject', 'out-of-range'),
        entry('fraction', 443.5, 'reject', 'out-of-range'),
        entry('string', '443', 'reject', 'wrong-type'),
      ],
      render: (out, v) => O.eq(provider(out).port, String(v), 'provider port'),
    },
    { prop: 'credentials', optional: true, judge: judge.never(), values: credentialValues(L) },
    {
      prop: 'tlsCaBundlePath',
      judge: pathJudge,
      values: pathValues(),
      generic: { string: 'accept' },
      render: (out, v) => O.eq(provider(out).trusted_cert_path, v, 'provider trusted_cert_path'),
    },
    {
      prop: 'insecureSkipTlsVerify',
      withoutTls: true,
      bool: true,
      judge: (v) => (v === true ? 'accept' : 'reject'),
      values: [entry('false-without-ca', false, 'reject', 'semantics')],
      // Unset or false, TLS verification is on and needs the CA bundle: that is the issue then.
      alsoFieldsFor: { undefined: ['tlsCaBundlePath'], 'false-without-ca': ['tlsCaBundlePath'] },
      why: 'TLS verification is off (or on without a CA bundle) and nothing was reported',
      render: (out) => [
        ...O.eq(provider(out).validate_certs_disable, true, 'validate_certs_disable'),
        ...O.eq(provider(out).trusted_cert_path, undefined, 'trusted_cert_path'),
      ],
    },
    {
      prop: 'sharedBigip',
      optional: true,
      judge: (v) => (v === undefined ? 'accept' : 'reject'),
      values: [
        entry(
          'shared-with-own-connection',
          (ctx) => new L.SharedBigip(ctx.newStack('bigip'), 'Shared', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }),
          'reject',
          'semantics',
          { alsoFields: ['address', 'tlsCaBundlePath'] },
        ),
        entry('fake-shared', { name: 'cdktf_ces', connection: {} }, 'reject', 'wrong-type'),
      ],
    },
    {
      prop: 'crdStack',
      judge: judge.never(),
      values: [
        entry('plain-stack', (ctx) => ctx.newStack('notcrds'), 'reject', 'wrong-type'),
        entry('own-stack', (ctx) => ctx.stack, 'reject', 'wrong-type'),
        entry('crd-stack-of-other-app', (ctx) => new L.EgressCrdStack(ctx.cdktf.Testing.app(), 'crds'), 'reject', 'semantics'),
      ],
    },
    {
      prop: 'tenant',
      optional: true,
      judge: (v) => (typeof v === 'string' && TENANT.test(v) && v.length <= 48 && v !== 'Common' && v !== 'Shared' ? 'accept' : 'reject'),
      values: [
        entry('explicit', 'k8s_prod_east', 'accept', 'legal'),
        entry('one-letter', 'T', 'accept', 'limits'),
        entry('at-limit-48', repeat('Tenant_1', 48), 'accept', 'limits'),
        entry('over-limit-49', repeat('Tenant_1', 49), 'reject', 'limits'),
        entry('Common', 'Common', 'reject', 'malformed'),
        entry('Shared', 'Shared', 'reject', 'malformed'),
        entry('leading-digit', '1tenant', 'reject', 'malformed'),
        entry('dash', 'k8s-prod', 'reject', 'malformed'),
        entry('leading-underscore', '_prod', 'reject', 'malformed'),
        entry('space', 'k8s prod', 'reject', 'malformed'),
        entry('semicolon', 'k8s;prod', 'reject', 'injection'),
        entry('interpolation', '${var.tenant}', 'reject', 'injection'),
        entry('cyrillic', 'k8s_prоd', 'reject', 'unicode'),
      ],
      render: (out, v, ctx) =>
        tenantDecl(out, ctx) && tenantDecl(out, ctx).class === 'Tenant' && ctx.tenant === v ? [] : [`no AS3 tenant ${v}`],
    },
    {
      prop: 'application',
      optional: true,
      judge: (v) => (typeof v === 'string' && TENANT.test(v) && v.length <= 48 && v !== 'Shared' ? 'accept' : 'reject'),
      values: [
        entry('explicit', 'egress_v2', 'accept', 'legal'),
        entry('at-limit-48', repeat('App_1234', 48), 'accept', 'limits'),
        entry('over-limit-49', repeat('App_1234', 49), 'reject', 'limits'),
        entry('Shared', 'Shared', 'reject', 'malformed'),
        entry('dash', 'eg-ress', 'reject', 'malformed'),
        entry('interpolation', '${x}', 'reject', 'injection'),
      ],
      render: (out, v, ctx) =>
        tenantDecl(out, ctx) && tenantDecl(out, ctx)[v] && tenantDecl(out, ctx)[v].class === 'Application'
          ? []
          : [`no AS3 application ${v}`],
    },
    {
      prop: 'routeDomain',
      optional: true,
      judge: judge.int(0, 65534),
      values: [
        entry('0', 0, 'accept', 'limits'),
        entry('negative-zero', -0, 'accept', 'limits'),
        entry('65534', 65534, 'accept', 'limits'),
        entry('65535', 65535, 'reject', 'out-of-range'),
        entry('negative', -1, 'reject', 'out-of-range'),
        entry('fraction', 2.5, 'reject', 'out-of-range'),
        entry('string', '2', 'reject', 'wrong-type'),
      ],
      render: (out, v, ctx) => O.eq(tenantDecl(out, ctx).defaultRouteDomain, v === 0 ? 0 : v, 'defaultRouteDomain'),
    },
    {
      prop: 'defaultAction',
      optional: true,
      judge: judge.oneOf(['DENY', 'REJECT', 'ALLOW']),
      values: [
        entry('enum-allow', L.DefaultAction.ALLOW, 'accept', 'legal'),
        entry('allow-final', 'ALLOW_FINAL', 'reject', 'malformed'),
        entry('lower-case', 'deny', 'reject', 'malformed'),
        entry('afm-drop', 'drop', 'reject', 'malformed'),
      ],
      render: (out, v, ctx) => {
        const rules = (shared(out, ctx, 'vs_policy').rules || []).filter((r) => r.name === 'default');
        return O.eq(
          rules.map((r) => r.action),
          [{ DENY: 'drop', REJECT: 'reject', ALLOW: 'accept' }[v]],
          'default rule action',
        );
      },
    },
    {
      prop: 'podCidrs',
      optional: true,
      judge: judge.never(),
      values: [
        entry('one', ['10.244.0.0/16'], 'accept', 'legal'),
        entry('dual-stack', ['10.244.0.0/16', 'fd00:10:244::/56'], 'accept', 'legal'),
        entry('upper-case-v6', ['FD00::/64'], 'accept', 'limits'),
        entry('overlapping', ['10.0.0.0/8', '10.244.0.0/16'], 'either', 'duplicates'),
        entry('empty-array', [], 'reject', 'fail-open', { why: 'podCidrs: [] makes the virtual server take traffic from any source' }),
        entry('catch-all-v4', ['0.0.0.0/0'], 'reject', 'fail-open', { why: 'podCidrs 0.0.0.0/0 duplicates the wildcard virtual address' }),
        entry('catch-all-v6', ['::/0'], 'reject', 'fail-open', { why: 'podCidrs ::/0 duplicates the wildcard virtual address' }),
        entry('duplicate', ['10.244.0.0/16', '10.244.0.0/16'], 'reject', 'duplicates'),
        entry('duplicate-case', ['fd00::/64', 'FD00::/64'], 'reject', 'duplicates'),
        entry('duplicate-zero-form', ['fd00::/64', 'fd00:0::/64'], 'reject', 'duplicates'),
        entry('host-bits', ['10.244.0.1/16'], 'reject', 'malformed'),
        entry('no-prefix', ['10.244.0.0'], 'reject', 'malformed'),
        entry('impossible', ['999.0.0.0/8'], 'reject', 'impossible'),
        entry('null-element', [null], 'reject', 'wrong-type'),
        entry('nested-array', [['10.244.0.0/16']], 'reject', 'wrong-type'),
        entry('string', '10.244.0.0/16', 'reject', 'wrong-type'),
      ],
      render: (out, v, ctx) => {
        const got = vsSources(out, ctx);
        return O.sameSet(got, canon(v)) ? [] : [`virtual-address sources ${JSON.stringify(got)}, expected ${JSON.stringify(v)}`];
      },
    },
    {
      prop: 'vlans',
      optional: true,
      judge: judge.never(),
      values: [
        entry('one', ['/Common/k8s'], 'accept', 'legal'),
        entry('punctuation', ['/Common/k8s.v2-a_b'], 'accept', 'limits'),
        entry('duplicate', ['/Common/k8s', '/Common/k8s'], 'either', 'duplicates'),
        entry('empty-array', [], 'reject', 'fail-open', { why: 'vlans: [] makes the virtual server listen on every VLAN' }),
        entry('bare-name', ['internal'], 'reject', 'malformed'),
        entry('semicolon', ['/Common/a;b'], 'reject', 'injection'),
        entry('interpolation', ['/Common/${x}'], 'reject', 'injection'),
        entry('string', '/Common/k8s', 'reject', 'wrong-type'),
      ],
      render: (out, v, ctx) =>
        O.eq(
          vs(out, ctx).allowVlans,
          v.map((b) => ({ bigip: b })),
          'allowVlans',
        ),
    },
    {
      prop: 'namespaceRouteDomains',
      optional: true,
      judge: judge.never(),
      values: (() => {
        const m = (extra = {}) => ({
          namespace: 'tenant-a',
          routeDomain: 11,
          vlans: ['/Common/vlan-a'],
          podCidrs: ['10.16.0.0/16'],
          ...extra,
        });
        const b = (extra = {}) => m({ namespace: 'tenant-b', routeDomain: 12, vlans: ['/Common/vlan-b'], ...extra });
        return [
          entry('two-overlapping', [m(), b()], 'accept', 'legal'),
          entry('named', [m({ routeDomainName: '/Common/rd-tenant-a' })], 'accept', 'legal'),
          entry('empty-array', [], 'accept', 'legal'),
          entry('max-id', [m({ routeDomain: 65534 })], 'accept', 'limits'),
          entry('id-0', [m({ routeDomain: 0 })], 'reject', 'fail-open', {
            why: 'route domain 0 is the device route domain: the pods would mix',
          }),
          entry('id-65535', [m({ routeDomain: 65535 })], 'reject', 'out-of-range'),
          entry('id-string', [m({ routeDomain: '11' })], 'reject', 'wrong-type'),
          entry('id-nan', [m({ routeDomain: NaN })], 'reject', 'impossible'),
          entry('same-id', [m(), b({ routeDomain: 11 })], 'reject', 'duplicates', {
            why: 'one route domain holding two namespaces could not tell their pods apart',
          }),
          entry('same-namespace', [m(), b({ namespace: 'tenant-a' })], 'reject', 'duplicates'),
          entry('shared-vlan', [m(), b({ vlans: ['/Common/vlan-a'] })], 'reject', 'duplicates', {
            why: 'a VLAN belongs to one route domain',
          }),
          entry('name-of-other-id', [m({ routeDomainName: '/Common/12' })], 'reject', 'semantics'),
          entry('no-vlans', [m({ vlans: [] })], 'reject', 'fail-open', {
            why: 'without VLANs the virtual server would listen on every VLAN',
          }),
          entry('no-pod-cidrs', [m({ podCidrs: [] })], 'reject', 'fail-open'),
          entry('catch-all-cidr', [m({ podCidrs: ['0.0.0.0/0'] })], 'reject', 'fail-open'),
          entry('bad-namespace', [m({ namespace: 'Tenant A' })], 'reject', 'malformed'),
          entry('injection-vlan', [m({ vlans: ['/Common/a;rm -rf /'] })], 'reject', 'injection'),
          entry('interpolation-name', [m({ routeDomainName: '/Common/${x}' })], 'reject', 'injection'),
          entry('unknown-key', [m({ vlan: ['/Common/x'] })], 'reject', 'unknown-key'),
          entry(
            'proto-key',
            [JSON.parse('{"__proto__": {"routeDomain": 11}, "namespace": "a", "vlans": ["/Common/v"], "podCidrs": ["10.1.0.0/16"]}')],
            'reject',
            'injection',
          ),
          entry('string', 'tenant-a', 'reject', 'wrong-type'),
          entry('null-element', [null], 'reject', 'wrong-type'),
        ];
      })(),
      render: (out, v, ctx) => {
        const a = app(out, ctx);
        return v.flatMap((mapping) => {
          const mapped = a && a[`egress_vs_rd${mapping.routeDomain}`];
          if (!mapped) return [`no egress virtual server for route domain ${mapping.routeDomain}`];
          return [
            ...O.eq(
              mapped.virtualAddresses,
              mapping.podCidrs.map((c) => [`0.0.0.0%${mapping.routeDomain}/0`, c.replace('/', `%${mapping.routeDomain}/`)]),
              'mapped virtual addresses',
            ),
            ...O.eq(
              mapped.allowVlans,
              mapping.vlans.map((bigip) => ({ bigip })),
              'mapped allowVlans',
            ),
          ];
        });
      },
    },
    {
      prop: 'gateways',
      optional: true,
      judge: judge.never(),
      values: [
        entry('one', ['192.0.2.1'], 'accept', 'legal'),
        entry('v6', ['2001:db8::1'], 'accept', 'legal'),
        entry('empty-array', [], 'either', 'fail-open'),
        entry('cidr', ['192.0.2.0/24'], 'reject', 'malformed'),
        entry('host-name', ['gw.example.net'], 'reject', 'malformed'),
        entry('duplicate', ['192.0.2.1', '192.0.2.1'], 'reject', 'duplicates'),
        entry('duplicate-case', ['2001:DB8::1', '2001:db8::1'], 'reject', 'duplicates'),
        entry('impossible', ['999.999.999.999'], 'reject', 'impossible'),
      ],
      render: (out, v, ctx) => {
        if (v.length === 0) return [];
        const pool = app(out, ctx).gateway_pool;
        const got = pool ? pool.members.flatMap((m) => m.serverAddresses).map(O.canonicalAddress) : [];
        return O.sameSet(got, canon(v)) ? [] : [`gateway pool ${JSON.stringify(got)}, expected ${JSON.stringify(v)}`];
      },
    },
    {
      prop: 'snat',
      optional: true,
      judge: judge.never(),
      values: [
        entry('automap', () => S.automap(), 'accept', 'legal', { verify: (out, ctx) => O.eq(vs(out, ctx).snat, 'auto', 'snat') }),
        entry('none', () => S.none(), 'accept', 'legal', { verify: (out, ctx) => O.eq(vs(out, ctx).snat, 'none', 'snat') }),
        entry('pool', () => S.pool(['192.0.2.50', '2001:db8::50']), 'accept', 'legal', {
          verify: (out, ctx) => {
            const pool = app(out, ctx).snat_pool;
            return pool && O.sameSet(pool.snatAddresses.map(O.canonicalAddress), canon(['192.0.2.50', '2001:db8::50']))
              ? []
              : ['SNAT pool does not hold the two addresses'];
          },
        }),
        entry('pool-empty', () => S.pool([]), 'reject', 'fail-open'),
        entry('pool-null', () => S.pool(null), 'reject', 'wrong-type'),
        entry('pool-undefined', () => S.pool(), 'reject', 'wrong-type'),
        entry('pool-string', () => S.pool('192.0.2.50'), 'reject', 'wrong-type'),
        entry('pool-number-element', () => S.pool([1]), 'reject', 'wrong-type'),
        entry('pool-cidr', () => S.pool(['192.0.2.0/24']), 'reject', 'malformed'),
        entry('pool-host-name', () => S.pool(['snat.example.net']), 'reject', 'malformed'),
        entry('pool-duplicate', () => S.pool(['192.0.2.50', '192.0.2.50']), 'reject', 'duplicates'),
        entry('pool-duplicate-case', () => S.pool(['2001:DB8::1', '2001:db8::1']), 'reject', 'duplicates'),
        entry('pool-impossible', () => S.pool(['999.0.0.1']), 'reject', 'impossible'),
        entry('string-mode', 'AUTOMAP', 'reject', 'wrong-type'),
        entry('literal-object', { mode: 'NONE', addresses: [] }, 'reject', 'wrong-type'),
        entry('prototype-only-instance', () => Object.create(S.prototype), 'reject', 'wrong-type'),
      ],
    },
    {
      prop: 'auditMode',
      optional: true,
      bool: true,
      judge: judge.bool(),
      values: [entry('false', false, 'accept', 'legal')],
      // Every context always has a staged policy; out of audit mode the enforced one decides:
      // its default rule drops (the device default), instead of letting every flow pass.
      render: (out, v, ctx) => {
        const rules = (shared(out, ctx, 'vs_policy').rules || []).filter((r) => r.name === 'default');
        return O.eq(
          rules.map((r) => r.action),
          [v ? 'accept' : 'drop'],
          'enforced default rule action',
        );
      },
    },
    {
      prop: 'logging',
      optional: true,
      judge: judge.never(),
      generic: { 'empty-object': 'accept' },
      values: [
        entry('syslog', { syslogServers: ['192.0.2.5:514'] }, 'accept', 'legal'),
        entry('syslog-v6-udp', { syslogServers: ['[2001:db8::5]:6514'], syslogTransport: 'udp' }, 'accept', 'legal'),
        entry('fields', { fields: ['date-time', 'action'] }, 'accept', 'legal'),
        entry('tcp-events', { logTcpEvents: true }, 'accept', 'legal'),
        entry('nowhere', { localDatabase: false }, 'either', 'fail-open'),
        entry('no-port', { syslogServers: ['192.0.2.5'] }, 'reject', 'malformed'),
        entry('host-name', { syslogServers: ['syslog.example.net:514'] }, 'reject', 'malformed'),
        entry('port-0', { syslogServers: ['192.0.2.5:0'] }, 'reject', 'out-of-range'),
        entry('port-99999', { syslogServers: ['192.0.2.5:99999'] }, 'reject', 'out-of-range'),
        entry('duplicate', { syslogServers: ['192.0.2.5:514', '192.0.2.5:514'] }, 'reject', 'duplicates'),
        entry('duplicate-case', { syslogServers: ['[2001:DB8::5]:514', '[2001:db8::5]:514'] }, 'reject', 'duplicates'),
        entry('upper-transport', { syslogTransport: 'TCP' }, 'reject', 'malformed'),
        entry('no-fields', { fields: [] }, 'reject', 'fail-open'),
        entry('unknown-field', { fields: ['date_time'] }, 'reject', 'malformed'),
        entry('string-false', { localDatabase: 'false' }, 'reject', 'boolean-ish'),
        entry('number-1', { logIpErrors: 1 }, 'reject', 'boolean-ish'),
        entry('misspelled', { syslogServer: ['192.0.2.5:514'] }, 'reject', 'unknown-key'),
        entry('own-proto-key', () => JSON.parse('{"__proto__":{"localDatabase":false}}'), 'reject', 'proto-key'),
        entry('servers-string', { syslogServers: '192.0.2.5:514' }, 'reject', 'wrong-type'),
      ],
    },
    {
      prop: 'ipIntelligencePolicy',
      optional: true,
      judge: (v) => (typeof v === 'string' && BIGIP_PATH.test(v) ? 'accept' : 'reject'),
      values: bigipPathValues('ip-intel'),
      render: (out, v, ctx) => O.eq(vs(out, ctx).ipIntelligencePolicy, { bigip: v }, 'ipIntelligencePolicy'),
    },
    {
      prop: 'protocolInspectionProfile',
      optional: true,
      judge: (v) => (typeof v === 'string' && BIGIP_PATH.test(v) ? 'accept' : 'reject'),
      values: bigipPathValues('inspection'),
      render: (out, v, ctx) => O.eq(vs(out, ctx).profileProtocolInspection, { bigip: v }, 'profileProtocolInspection'),
    },
    {
      prop: 'dnsResolver',
      judge: (v) => (typeof v === 'string' && BIGIP_PATH.test(v) ? 'accept' : 'reject'),
      values: bigipPathValues('resolver'),
      render: (out, v) =>
        out.commands.some((c) => (c.commands || []).includes(`modify security firewall global-fqdn-policy dns-resolver ${v}`))
          ? []
          : ['the resolver command is missing'],
    },
    {
      // A BIG-IP pair: the peers get providers and the same declaration; anything odd is refused.
      prop: 'highAvailability',
      optional: true,
      judge: judge.never(),
      values: [
        entry('pair', { deviceGroup: 'failover-group', peerAddresses: ['bigip-b.example.net'] }, 'accept', 'legal'),
        entry(
          'explicit-sync',
          { deviceGroup: '/Common/dg', peerAddresses: ['192.0.2.11'], configSync: 'explicit', peerPort: 8443 },
          'accept',
          'legal',
        ),
        entry(
          'seven-peers',
          { deviceGroup: 'dg', peerAddresses: [1, 2, 3, 4, 5, 6, 7].map((i) => `bigip-${i}.example.net`) },
          'accept',
          'limits',
        ),
        entry(
          'eight-peers',
          { deviceGroup: 'dg', peerAddresses: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `bigip-${i}.example.net`) },
          'reject',
          'limits',
        ),
        entry('no-peers', { deviceGroup: 'dg', peerAddresses: [] }, 'reject', 'impossible'),
        entry('own-address', { deviceGroup: 'dg', peerAddresses: ['bigip.example.net'] }, 'reject', 'impossible'),
        entry('peer-twice', { deviceGroup: 'dg', peerAddresses: ['b.example.net', 'b.example.net'] }, 'reject', 'impossible'),
        entry('peer-url', { deviceGroup: 'dg', peerAddresses: ['https://b.example.net'] }, 'reject', 'malformed'),
        entry('peer-interpolation', { deviceGroup: 'dg', peerAddresses: ['${var.peer}'] }, 'reject', 'injection'),
        entry('group-other-partition', { deviceGroup: '/Tenant/dg', peerAddresses: ['b.example.net'] }, 'reject', 'malformed'),
        entry('group-injection', { deviceGroup: 'dg; delete sys', peerAddresses: ['b.example.net'] }, 'reject', 'injection'),
        entry('group-cyrillic', { deviceGroup: 'dg-рrod', peerAddresses: ['b.example.net'] }, 'reject', 'unicode'),
        entry('sync-manual', { deviceGroup: 'dg', peerAddresses: ['b.example.net'], configSync: 'manual' }, 'reject', 'malformed'),
        entry('sync-upper', { deviceGroup: 'dg', peerAddresses: ['b.example.net'], configSync: 'AUTO' }, 'reject', 'malformed'),
        entry('port-string', { deviceGroup: 'dg', peerAddresses: ['b.example.net'], peerPort: '443' }, 'reject', 'wrong-type'),
        entry('unknown-key', { deviceGroup: 'dg', peerAddresses: ['b.example.net'], autoSync: true }, 'reject', 'unknown-key'),
      ],
      render: (out, v) => {
        const peers = out.providers.filter((p) => /_unit\d+$/.test(p.alias)).map((p) => p.address);
        const decls = out.as3.length;
        return [
          ...O.eq(peers, v.peerAddresses, 'peer provider addresses'),
          ...(decls === v.peerAddresses.length + 1 ? [] : [`${decls} declarations for ${v.peerAddresses.length + 1} units`]),
        ];
      },
    },
  ];
  propCases(add, { target: 'AfmDevice', specs, base, build });
  unknownKeyCases(add, {
    target: 'AfmDevice',
    base,
    build,
    keys: [
      ['cluster', 'prod'],
      ['clustername', 'prod'],
      ['podCIDRs', ['10.244.0.0/16'], 'the misspelled "podCIDRs" was dropped, so the virtual server takes any source'],
      ['podCidr', ['10.244.0.0/16']],
      ['vlan', ['/Common/k8s'], 'the misspelled "vlan" was dropped, so the virtual server listens on every VLAN'],
      ['snatPool', ['192.0.2.50']],
      ['namespace', 'payments'],
      ['insecureSkipTLSVerify', true],
      ['tlsCaBundle', '/etc/ssl/other.pem'],
      ['defaultaction', 'ALLOW'],
      ['routedomain', 2],
      ['foo', 'bar'],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// SharedBigip

function sharedBigipCases(L, add) {
  const D = L.EgressDestination;
  const base = (ctx, spec) => {
    const props = { address: 'bigip.example.net', tlsCaBundlePath: '/etc/ssl/bigip-ca.pem', dnsResolver: '/Common/egress-resolver' };
    if (spec.withoutTls) delete props.tlsCaBundlePath;
    return props;
  };
  const build = (ctx, props) => {
    const shared = new L.SharedBigip(ctx.newStack('bigip'), 'Shared', props);
    ctx.sharedName = shared.name;
    const device = new L.AfmDevice(ctx.stack, 'East', {
      clusterName: 'east',
      sharedBigip: shared,
      crdStack: ctx.crds,
      podCidrs: ['10.244.0.0/16'],
    });
    new L.ClusterEgressRule(ctx.stack, 'AllowDns', {
      device,
      action: 'ALLOW_FINAL',
      destinations: [D.address('10.96.0.10'), D.fqdn('time.example.com')],
      ports: [L.EgressPort.DNS_UDP],
    });
  };
  const provider = (out) => out.providers.find((p) => p.stack === 'bigip') || {};
  const specs = [
    { prop: 'address', judge: hostJudge, values: hostValues(), render: (out, v) => O.eq(provider(out).address, v, 'provider address') },
    {
      prop: 'port',
      optional: true,
      judge: judge.int(1, 65535),
      values: [
        entry('65535', 65535, 'accept', 'limits'),
        entry('0', 0, 'reject', 'out-of-range'),
        entry('99999', 99999, 'reject', 'out-of-range'),
        entry('string', '443', 'reject', 'wrong-type'),
      ],
      render: (out, v) => O.eq(provider(out).port, String(v), 'provider port'),
    },
    {
      prop: 'credentials',
      optional: true,
      judge: judge.never(),
      values: credentialValues(L).filter((e) => !e.label.startsWith('from-variables') || e.expect === 'reject'),
    },
    {
      prop: 'tlsCaBundlePath',
      judge: pathJudge,
      values: pathValues(),
      generic: { string: 'accept' },
      render: (out, v) => O.eq(provider(out).trusted_cert_path, v, 'provider trusted_cert_path'),
    },
    {
      prop: 'insecureSkipTlsVerify',
      withoutTls: true,
      bool: true,
      judge: (v) => (v === true ? 'accept' : 'reject'),
      alsoFieldsFor: { undefined: ['tlsCaBundlePath'] },
      why: 'TLS verification is off (or on without a CA bundle) and nothing was reported',
      render: (out) => O.eq(provider(out).validate_certs_disable, true, 'validate_certs_disable'),
    },
    {
      prop: 'name',
      optional: true,
      judge: (v) => (typeof v === 'string' && TENANT.test(v) && v.length <= 48 && v !== 'Common' && v !== 'Shared' ? 'accept' : 'reject'),
      values: [
        entry('explicit', 'dc1_shared', 'accept', 'legal'),
        entry('at-limit-48', repeat('Shared_1', 48), 'accept', 'limits'),
        entry('over-limit-49', repeat('Shared_1', 49), 'reject', 'limits'),
        entry('Common', 'Common', 'reject', 'malformed'),
        entry('dash', 'dc-1', 'reject', 'malformed'),
        entry('interpolation', '${var.x}', 'reject', 'injection'),
        entry('semicolon', 'a;b', 'reject', 'injection'),
      ],
      render: (out, v) =>
        out.as3.some((a) => a.request.declaration && a.request.declaration.id === `cdktf-ces-${v}`)
          ? []
          : [`no shared declaration cdktf-ces-${v}`],
    },
    {
      prop: 'dnsResolver',
      judge: (v) => (typeof v === 'string' && BIGIP_PATH.test(v) ? 'accept' : 'reject'),
      values: bigipPathValues('resolver'),
    },
  ];
  propCases(add, { target: 'SharedBigip', specs, base, build });
  unknownKeyCases(add, {
    target: 'SharedBigip',
    base,
    build,
    keys: [
      ['tenant', 'k8s_east'],
      ['dnsResolvers', ['/Common/r']],
      ['names', 'x'],
      ['routeDomain', 2],
      ['clusterName', 'east'],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// EgressController

function controllerCases(L, add) {
  const base = (ctx, spec) => {
    const props = { device: ctx.device, credentialsSecret: 'bigip-credentials', caBundleConfigMap: 'bigip-ca' };
    if (spec.withoutCa) delete props.caBundleConfigMap;
    return props;
  };
  const build = (ctx, props) => new L.EgressController(ctx.stack, 'Controller', props);
  const keyJudge = (v) => (typeof v === 'string' && /^[-._a-zA-Z0-9]{1,253}$/.test(v) && v !== '.' && v !== '..' ? 'accept' : 'reject');
  const keyValues = () => [
    entry('dotted', 'bigip.user', 'accept', 'legal'),
    entry('dot', '.', 'reject', 'malformed', { why: 'Kubernetes refuses "." as a key' }),
    entry('dot-dot', '..', 'reject', 'malformed', { why: 'Kubernetes refuses ".." as a key' }),
    entry('slash', 'a/b', 'reject', 'malformed'),
    entry('interpolation', '${x}', 'reject', 'injection'),
    entry('over-253', repeat('k', 254), 'reject', 'limits'),
  ];
  const subdomainValues = () => [
    entry('dotted', 'bigip.credentials', 'accept', 'legal'),
    entry('upper', 'BigIP', 'reject', 'malformed'),
    entry('underscore', 'a_b', 'reject', 'malformed'),
    entry('interpolation', '${var.s}', 'reject', 'injection'),
    entry('over-253', repeat('a', 254), 'reject', 'limits'),
  ];
  const quantity = (prop, getter) => ({
    prop,
    optional: true,
    judge: (v) => (isCanonicalQuantity(v) ? 'accept' : 'reject'),
    values: [
      entry('milli', '100m', 'accept', 'legal'),
      entry('binary', '1Gi', 'accept', 'legal'),
      entry('fraction', '0.5', 'reject', 'malformed', { why: 'the API server stores 0.5 as 500m' }),
      entry('non-canonical', '1024Mi', 'reject', 'malformed', { why: 'the API server stores 1024Mi as 1Gi' }),
      entry('negative', '-1', 'reject', 'out-of-range'),
      entry('bytes-suffix', '128MB', 'reject', 'malformed'),
      entry('two-dots', '1.5.5', 'reject', 'malformed'),
      entry('interpolation', '${var.q}', 'reject', 'injection'),
      entry('number', 128, 'reject', 'wrong-type'),
    ],
    render: (out, v) => O.eq(getter(O.containerOf(out)), v, prop),
  });
  const int = (prop, min, max, env) => ({
    prop,
    optional: true,
    judge: judge.int(min, max),
    values: [
      entry('min', min, 'accept', 'limits'),
      entry('max', max, 'accept', 'limits'),
      entry('below', min - 1, 'reject', 'out-of-range'),
      entry('above', max + 1, 'reject', 'out-of-range'),
      entry('fraction', min + 0.5, 'reject', 'out-of-range'),
      entry('string', String(max), 'reject', 'wrong-type'),
    ],
    render: (out, v) => (env ? O.eq(O.envOf(out, env), String(v), env) : O.eq(O.deployment(out).spec.replicas, v, 'replicas')),
  });
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
      ],
    },
    {
      prop: 'namespace',
      optional: true,
      judge: judge.dnsLabel(),
      values: V.dnsLabelValues().map(([l, v, c]) => entry(l, v, undefined, c)),
      render: (out, v) => O.eq(O.deployment(out).metadata.namespace, v, 'Deployment namespace'),
    },
    {
      prop: 'createNamespace',
      optional: true,
      bool: true,
      judge: judge.bool(),
      values: [entry('false', false, 'accept', 'legal')],
      render: (out, v) =>
        O.eq(
          out.manifests.some((m) => m.manifest.kind === 'Namespace'),
          v,
          'Namespace created',
        ),
    },
    {
      prop: 'credentialsSecret',
      judge: (v) => (typeof v === 'string' && DNS_SUBDOMAIN.test(v) ? 'accept' : 'reject'),
      values: subdomainValues(),
      // Read through the API by the controller, never mounted.
      render: (out, v) => O.eq(O.envOf(out, 'BIGIP_CREDENTIALS_SECRET'), `cdktf-ces-system/${v}`, 'BIGIP_CREDENTIALS_SECRET'),
    },
    {
      prop: 'usernameKey',
      optional: true,
      judge: keyJudge,
      values: keyValues(),
      render: (out, v) => O.eq(O.envOf(out, 'BIGIP_USERNAME_KEY'), v, 'BIGIP_USERNAME_KEY'),
    },
    {
      prop: 'passwordKey',
      optional: true,
      judge: keyJudge,
      values: keyValues(),
      render: (out, v) => O.eq(O.envOf(out, 'BIGIP_PASSWORD_KEY'), v, 'BIGIP_PASSWORD_KEY'),
    },
    {
      prop: 'caBundleConfigMap',
      judge: (v) => (typeof v === 'string' && DNS_SUBDOMAIN.test(v) ? 'accept' : 'reject'),
      values: subdomainValues(),
      render: (out, v) => O.eq(O.envOf(out, 'BIGIP_CA_CONFIGMAP'), `cdktf-ces-system/${v}`, 'BIGIP_CA_CONFIGMAP'),
    },
    {
      prop: 'caBundleKey',
      optional: true,
      judge: keyJudge,
      values: keyValues(),
      render: (out, v) => O.eq(O.envOf(out, 'BIGIP_CA_KEY'), v, 'BIGIP_CA_KEY'),
    },
    {
      prop: 'insecureSkipTlsVerify',
      withoutCa: true,
      bool: true,
      judge: (v) => (v === true ? 'accept' : 'reject'),
      alsoFieldsFor: { undefined: ['caBundleConfigMap'] },
      why: 'TLS verification is off (or on without a CA bundle) and nothing was reported',
      render: (out) => O.eq(O.envOf(out, 'BIGIP_INSECURE_SKIP_TLS_VERIFY'), 'true', 'BIGIP_INSECURE_SKIP_TLS_VERIFY'),
    },
    {
      prop: 'bigipUrl',
      optional: true,
      judge: urlJudge,
      values: [
        entry('host', 'https://bigip.example.net', 'accept', 'legal'),
        entry('host-port', 'https://bigip.example.net:8443', 'accept', 'legal'),
        entry('ipv6', 'https://[2001:db8::1]:8443', 'accept', 'legal'),
        entry('trailing-slash', 'https://192.0.2.1/', 'accept', 'legal'),
        entry('http', 'http://bigip.example.net', 'reject', 'malformed'),
        entry('interpolation', 'https://${var.bigip}', 'reject', 'injection', { why: 'Terraform evaluates ${...} in cdk.tf.json' }),
        entry('directive', 'https://%{if true}evil%{endif}.net', 'reject', 'injection', {
          why: 'Terraform evaluates %{...} in cdk.tf.json',
        }),
        entry('credentials', 'https://admin:secret@bigip.example.net', 'reject', 'injection', {
          why: 'credentials in the URL land in cdk.tf.json',
        }),
        entry('port-99999', 'https://bigip.example.net:99999', 'reject', 'out-of-range', { why: 'port 99999 does not exist' }),
        entry('port-0', 'https://bigip.example.net:0', 'reject', 'out-of-range', { why: 'port 0 is not a port' }),
        entry('path', 'https://bigip.example.net/mgmt', 'reject', 'malformed'),
        entry('no-host', 'https://', 'reject', 'malformed'),
        entry('newline', 'https://bigip.example.net\n', 'reject', 'injection'),
        entry('impossible-ip', 'https://999.999.999.999', 'reject', 'impossible', { why: '999.999.999.999 is no address' }),
      ],
      render: (out, v) => O.eq(O.envOf(out, 'BIGIP_URL'), v, 'BIGIP_URL'),
    },
    {
      // The base device is one BIG-IP: peer URLs belong to a pair (highAvailability) only.
      prop: 'bigipPeerUrls',
      optional: true,
      judge: judge.never(),
      // No peer URL for a device without peers says nothing wrong.
      generic: { 'empty-array': 'accept' },
      values: [
        entry('on-one-bigip', ['https://bigip-b.example.net'], 'reject', 'impossible', { why: 'the device has no other unit' }),
        entry('http', ['http://bigip-b.example.net'], 'reject', 'malformed'),
        entry('interpolation', ['https://${var.peer}'], 'reject', 'injection', { why: 'Terraform evaluates ${...} in cdk.tf.json' }),
        entry('credentials', ['https://admin:secret@b.example.net'], 'reject', 'injection', {
          why: 'credentials in the URL land in cdk.tf.json',
        }),
        entry('not-an-array', 'https://bigip-b.example.net', 'reject', 'wrong-type'),
      ],
      render: (out) => (O.envOf(out, 'BIGIP_HA_PEER_URLS') === undefined ? [] : ['BIGIP_HA_PEER_URLS set for one BIG-IP']),
    },
    {
      prop: 'image',
      optional: true,
      judge: imageJudge,
      values: [
        entry('registry-tag', 'registry.example.com/ces/controller:1.0', 'accept', 'legal'),
        entry('digest', `ghcr.io/org/ces@sha256:${HEX64}`, 'accept', 'legal'),
        entry('interpolation', '${var.image}', 'reject', 'injection', { why: 'Terraform evaluates ${...} in cdk.tf.json' }),
        entry('directive', 'img%{if true}x%{endif}', 'reject', 'injection', { why: 'Terraform evaluates %{...} in cdk.tf.json' }),
        entry('newline', 'img:1\n', 'reject', 'injection'),
        entry('space', 'img name:1', 'reject', 'malformed'),
        entry('upper-case', 'Registry/Image:1', 'either', 'malformed'),
      ],
      render: (out, v) => O.eq(O.containerOf(out).image, v, 'container image'),
    },
    {
      prop: 'nodeImage',
      optional: true,
      judge: imageJudge,
      values: [
        entry('digest', `node:20-alpine@sha256:${HEX64}`, 'accept', 'legal'),
        entry('interpolation', '${var.node}', 'reject', 'injection', { why: 'Terraform evaluates ${...} in cdk.tf.json' }),
        entry('newline', 'node:20\n', 'reject', 'injection'),
        entry('space', 'node 20', 'reject', 'malformed'),
      ],
      render: (out, v) => O.eq(O.containerOf(out).image, v, 'container image'),
    },
    int('replicas', 1, 5),
    quantity('cpuRequest', (c) => c.resources.requests.cpu),
    quantity('memoryRequest', (c) => c.resources.requests.memory),
    quantity('memoryLimit', (c) => c.resources.limits.memory),
    int('coalesceMs', 0, 60000, 'COALESCE_MS'),
    int('maxPushesPerSecond', 1, 1000, 'MAX_PUSHES_PER_SECOND'),
    {
      prop: 'logLevel',
      optional: true,
      judge: judge.oneOf(['debug', 'info', 'warn', 'error']),
      values: [entry('upper', 'INFO', 'reject', 'malformed'), entry('trace', 'trace', 'reject', 'malformed')],
      render: (out, v) => O.eq(O.envOf(out, 'LOG_LEVEL'), v, 'LOG_LEVEL'),
    },
  ];
  // Quantities and memory: a legal request above the default limit, or a legal limit below the
  // default request, is not legal together with it (Kubernetes refuses a request above its limit).
  const aboveLimit = { memoryRequest: ['binary'], memoryLimit: ['milli'] };
  for (const s of specs) {
    for (const e of s.values || []) {
      if (!(aboveLimit[s.prop] || []).includes(e.label)) continue;
      e.expect = 'reject';
      e.category = 'semantics';
      e.why =
        s.prop === 'memoryRequest'
          ? 'a memory request of 1Gi above the 256Mi limit is refused by Kubernetes'
          : `a memory limit of ${e.make()} below the 128Mi request is refused by Kubernetes`;
    }
  }
  propCases(add, { target: 'EgressController', specs, base, build });
  unknownKeyCases(add, {
    target: 'EgressController',
    base,
    build,
    keys: [
      ['image_', 'img:1'],
      ['replica', 3],
      ['insecureSkipTLSVerify', true],
      ['caBundleConfigmap', 'other-ca'],
      ['namespaces', 'x'],
      ['credentialSecret', 'other'],
      ['tolerations', []],
      ['nodeSelector', { a: 'b' }],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// EgressGuardrails

function guardrailCases(L, add) {
  const D = L.EgressDestination;
  const P = L.EgressPort;
  const base = () => ({});
  /** A team rule inside any sane envelope: guardrails with legal props let synth pass. */
  const build = (ctx, props) => {
    L.EgressGuardrails.applyTo(ctx.app, props);
    new L.NamespaceEgressRule(ctx.stack, 'TeamRule', {
      device: ctx.device,
      namespace: 'payments',
      action: 'ALLOW',
      destinations: [D.cidr('203.0.113.0/24')],
      ports: [P.HTTPS],
      owner: 'team-payments',
      ticket: 'SEC-1',
      justification: 'partner api',
    });
  };
  const boolSpec = (prop) => ({
    prop,
    optional: true,
    bool: true,
    judge: judge.bool(),
    values: [entry('false', false, 'accept', 'legal')],
  });
  const specs = [
    {
      prop: 'name',
      optional: true,
      judge: (v) => (typeof v !== 'string' || NEVER_IN_TEXT.test(v) ? 'reject' : v.trim() === '' ? 'either' : 'accept'),
      values: [
        entry('plain', 'security baseline (v2)', 'accept', 'legal'),
        entry('long', repeat('guardrails ', 200), 'either', 'limits'),
        entry('terminal-escape', '\u001b[31mred', 'reject', 'injection', { why: 'the name is printed in synth errors and warnings' }),
        entry('newline', 'a\nb', 'reject', 'injection', { why: 'the name is printed in synth errors and warnings' }),
        entry('rtl', '\u202eenilesab', 'either', 'unicode'),
      ],
    },
    {
      prop: 'mode',
      optional: true,
      judge: judge.oneOf(['ENFORCE', 'WARN']),
      values: [
        entry('enum-warn', L.GuardrailMode.WARN, 'accept', 'legal'),
        entry('lower-warn', 'warn', 'reject', 'malformed', { why: 'an unknown mode was taken as ENFORCE without a word' }),
        entry('off', 'OFF', 'reject', 'malformed', { why: 'an unknown mode was taken as ENFORCE without a word' }),
      ],
    },
    boolSpec('forbidCatchAll'),
    boolSpec('forbidWildcardFqdns'),
    {
      prop: 'allowedDestinations',
      optional: true,
      judge: judge.never(),
      values: [
        entry('exact', () => [D.cidr('203.0.113.0/24')], 'accept', 'legal'),
        entry('wider', () => [D.cidr('203.0.0.0/16'), D.fqdn('*.partner.example')], 'accept', 'legal'),
        entry('two-halves', () => [D.cidr('203.0.113.0/25'), D.cidr('203.0.113.128/25')], 'accept', 'limits'),
        entry('frozen', () => V.deepFreeze([D.cidr('203.0.113.0/24')]), 'accept', 'wrong-type'),
        entry('empty-array', () => [], 'reject', 'fail-open'),
        entry('strings', () => ['203.0.113.0/24'], 'reject', 'wrong-type'),
        entry('null-element', () => [null], 'reject', 'wrong-type'),
        entry('forged-catch-all', () => [{ _toModel: () => ({ kind: 'fqdn', text: '*.com', wildcard: true }) }], 'reject', 'wrong-type', {
          why: 'a forged destination put an unvalidated "*.com" into the envelope',
        }),
        entry(
          'external-service',
          (ctx) => [
            D.externalService(new L.ExternalService(ctx.stack, 'Bank', { device: ctx.device, destinations: [D.address('198.51.100.7')] })),
          ],
          'reject',
          'semantics',
        ),
        entry('catch-all', () => [D.anyIpv4()], 'reject', 'semantics'),
        entry('host-bits', () => [D.cidr('203.0.113.1/24')], 'reject', 'malformed'),
        entry('public-suffix-wildcard', () => [D.fqdn('*.com')], 'reject', 'malformed'),
        entry('outside', () => [D.cidr('198.51.100.0/24')], 'reject', 'guardrail'),
      ],
    },
    {
      prop: 'allowedPorts',
      optional: true,
      judge: judge.never(),
      values: [
        entry('https', () => [P.HTTPS], 'accept', 'legal'),
        entry('all-tcp', () => [P.allTcp()], 'accept', 'legal'),
        entry('full-range', () => [P.tcpRange(1, 65535)], 'accept', 'limits'),
        entry('empty-array', () => [], 'reject', 'fail-open'),
        entry('strings', () => ['443'], 'reject', 'wrong-type'),
        entry('tcp-undefined', () => [P.tcp()], 'reject', 'fail-open', { why: 'EgressPort.tcp() in the envelope admits every TCP port' }),
        entry('forged', () => [{ _toModel: () => ({ protocol: 'any' }) }], 'reject', 'wrong-type', {
          why: 'a forged port put "any" into the envelope',
        }),
        entry('outside', () => [P.SSH], 'reject', 'guardrail'),
      ],
    },
    {
      prop: 'maxRulesPerNamespace',
      optional: true,
      judge: judge.int(1, Number.MAX_SAFE_INTEGER),
      values: [
        entry('1', 1, 'accept', 'limits'),
        entry('max-safe', Number.MAX_SAFE_INTEGER, 'accept', 'limits'),
        entry('0', 0, 'reject', 'out-of-range'),
        entry('negative', -1, 'reject', 'out-of-range'),
        entry('fraction', 1.5, 'reject', 'out-of-range'),
        entry('string', '5', 'reject', 'wrong-type'),
      ],
    },
    boolSpec('requireOwner'),
    boolSpec('requireTicket'),
    boolSpec('requireJustification'),
  ];
  propCases(add, { target: 'EgressGuardrails', specs, base, build });
  unknownKeyCases(add, {
    target: 'EgressGuardrails',
    base,
    build,
    keys: [
      ['forbidCatchall', false],
      ['requireOwners', true, 'the misspelled "requireOwners" was dropped, so ownerless rules pass'],
      ['allowedDestination', () => [D.cidr('10.0.0.0/8')], 'the misspelled "allowedDestination" was dropped, so there is no envelope'],
      ['maxRulesPerNamesapce', 1],
      ['allowCatchAll', true],
      ['enforce', false],
      ['scope', 'cluster'],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// EgressCrdStack

function crdStackCases(L, add) {
  const base = () => ({});
  const build = (ctx, props) => new L.EgressCrdStack(ctx.app, 'crds', props);
  const kubeProvider = (out) => ((out.stacks.crds && out.stacks.crds.provider && out.stacks.crds.provider.kubernetes) || [])[0] || {};
  const specs = [
    {
      prop: 'kubernetes',
      optional: true,
      judge: judge.never(),
      generic: { 'empty-object': 'accept' },
      values: [
        entry('config-path', { configPath: '~/.kube/config', configContext: 'prod' }, 'accept', 'legal', {
          verify: (out) => [
            ...O.eq(kubeProvider(out).config_path, '~/.kube/config', 'config_path'),
            ...O.eq(kubeProvider(out).config_context, 'prod', 'config_context'),
          ],
        }),
      ],
    },
  ];
  propCases(add, { target: 'EgressCrdStack', specs, base, build });
  unknownKeyCases(add, {
    target: 'EgressCrdStack',
    base,
    build,
    keys: [
      ['kubernets', { configPath: '~/.kube/prod' }, 'the misspelled "kubernets" was dropped, so the CRDs go to the default cluster'],
      ['provider', {}],
    ],
  });
}

module.exports = { deviceCases, sharedBigipCases, controllerCases, guardrailCases, crdStackCases, hostJudge };
