'use strict';
/**
 * Hand-written scenarios: JavaScript call shapes, `__proto__`/`constructor` keys and prototype
 * pollution, duplicates, forced name-digest collisions, guardrail bypasses, mutation of shared
 * objects, cross-prop semantics and maximum-length policies.
 */
const V = require('./values');
const O = require('./check-output');
const { repeat } = V;

function scenarioCases(L, add) {
  const D = L.EgressDestination;
  const P = L.EgressPort;
  const ruleBase = (ctx, extra = {}) => ({
    device: ctx.device,
    action: 'ALLOW',
    destinations: [D.cidr('203.0.113.0/24')],
    ports: [P.HTTPS],
    ...extra,
  });
  const ns = { namespace: 'payments' };
  const svc = { namespace: 'payments', service: 'checkout' };
  const scenario = (category, id, expect, build, extra = {}) =>
    add({ id: `scenario.${id}`, category, target: extra.target || 'scenario', expect, build, ...extra });

  // -------------------------------------------------------------------------------------------
  // Call shapes: the props argument itself, and where the construct is created.
  const constructs = [
    {
      name: 'ClusterEgressRule',
      make: (ctx, props) => new L.ClusterEgressRule(ctx.stack, 'Hostile', props),
      valid: (ctx) => ruleBase(ctx),
      cr: ['ClusterEgressRule', 'hostile'],
    },
    {
      name: 'NamespaceEgressRule',
      make: (ctx, props) => new L.NamespaceEgressRule(ctx.stack, 'Hostile', props),
      valid: (ctx) => ruleBase(ctx, ns),
      cr: ['NamespaceEgressRule', 'hostile'],
    },
    {
      name: 'ServiceEgressRule',
      make: (ctx, props) => new L.ServiceEgressRule(ctx.stack, 'Hostile', props),
      valid: (ctx) => ruleBase(ctx, svc),
      cr: ['ServiceEgressRule', 'hostile'],
    },
    {
      name: 'ExternalService',
      make: (ctx, props) => new L.ExternalService(ctx.stack, 'Bank', props),
      valid: (ctx) => ({ device: ctx.device, destinations: [D.address('198.51.100.7')] }),
      cr: ['ExternalService', 'bank'],
    },
    { name: 'AfmDevice', make: (ctx, props) => new L.AfmDevice(ctx.stack, 'Bigip', props), valid: (ctx) => ctx.deviceProps() },
    {
      name: 'SharedBigip',
      make: (ctx, props) => {
        const shared = new L.SharedBigip(ctx.stack, 'Shared', props);
        if (shared && shared.name)
          new L.AfmDevice(ctx.stack, 'East', { clusterName: 'east', sharedBigip: shared, crdStack: ctx.crds, podCidrs: ['10.244.0.0/16'] });
      },
      valid: () => ({ address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }),
    },
    {
      name: 'EgressController',
      make: (ctx, props) => new L.EgressController(ctx.stack, 'Controller', props),
      valid: (ctx) => ({ device: ctx.device, credentialsSecret: 'bigip-credentials', caBundleConfigMap: 'bigip-ca' }),
    },
    {
      name: 'EgressGuardrails.applyTo',
      make: (ctx, props) => L.EgressGuardrails.applyTo(ctx.app, props),
      valid: () => ({ requireOwner: false }),
      optionalProps: true,
    },
    {
      name: 'new EgressGuardrails',
      make: (ctx, props) => ctx.cdktf.Aspects.of(ctx.app).add(new L.EgressGuardrails(props)),
      valid: () => ({ forbidWildcardFqdns: true }),
      optionalProps: true,
    },
    {
      name: 'EgressCrdStack',
      make: (ctx, props) => new L.EgressCrdStack(ctx.app, 'extra-crds', props),
      valid: () => ({}),
      optionalProps: true,
    },
  ];
  const crCheck = (c) => (out) => {
    if (!c.cr) return [];
    const cr = O.findCr(out, c.cr[0], c.cr[1]);
    if (!cr) return [`no ${c.cr[0]} ${c.cr[1]}`];
    if (c.cr[0] === 'ExternalService') return O.eq(O.crDestinationKeys(cr), ['ip:198.51.100.7'], 'destinations');
    return [
      ...O.eq(cr.spec.action, 'Allow', 'spec.action'),
      ...O.eq(O.crDestinationKeys(cr), ['ip:203.0.113.0/24'], 'destinations'),
      ...O.eq(cr.spec.ports, [{ protocol: 'tcp', port: 443 }], 'spec.ports'),
    ];
  };
  for (const c of constructs) {
    const bad = [
      ['no-props', undefined, c.optionalProps ? 'accept' : 'reject'],
      ['null-props', null, 'reject'],
      ['string-props', 'props', 'reject'],
      ['number-props', 42, 'reject'],
      ['array-props', [], 'reject'],
      ['function-props', () => ({}), 'reject'],
      ['symbol-props', Symbol('props'), 'reject'],
      ['boolean-props', true, 'reject'],
    ];
    for (const [label, value, expect] of bad) {
      scenario('call-shape', `${c.name}.${label}`, expect, (ctx) => (label === 'no-props' ? c.make(ctx) : c.make(ctx, value)), {
        target: c.name,
      });
    }
    scenario('wrong-type', `${c.name}.throwing-proxy-props`, 'reject', (ctx) => c.make(ctx, V.throwingProxy('props')), { target: c.name });
    scenario(
      'wrong-type',
      `${c.name}.throwing-getter-props`,
      'reject',
      (ctx) => {
        const props = c.valid(ctx);
        V.throwingGetter(props, Object.keys(props)[0] || 'kubernetes');
        c.make(ctx, props);
      },
      { target: c.name },
    );
    scenario('wrong-type', `${c.name}.frozen-props`, 'accept', (ctx) => c.make(ctx, V.deepFreeze(c.valid(ctx))), {
      target: c.name,
      verify: crCheck(c),
    });
    scenario(
      'wrong-type',
      `${c.name}.null-prototype-props`,
      'accept',
      (ctx) => c.make(ctx, Object.assign(Object.create(null), c.valid(ctx))),
      { target: c.name, verify: crCheck(c) },
    );
    scenario(
      'wrong-type',
      `${c.name}.class-instance-props`,
      'accept',
      (ctx) => {
        const valid = c.valid(ctx);
        class UserProps {
          constructor() {
            Object.assign(this, valid);
          }
        }
        c.make(ctx, new UserProps());
      },
      { target: c.name, verify: crCheck(c) },
    );
    scenario('wrong-type', `${c.name}.transparent-proxy-props`, 'accept', (ctx) => c.make(ctx, new Proxy(c.valid(ctx), {})), {
      target: c.name,
      verify: crCheck(c),
    });
    scenario('proto-key', `${c.name}.inherited-props`, 'either', (ctx) => c.make(ctx, Object.create(c.valid(ctx))), {
      target: c.name,
      verify: crCheck(c),
      why: 'props inherited from a prototype were dropped',
    });
    scenario(
      'proto-key',
      `${c.name}.own-proto-key`,
      'reject',
      (ctx) => c.make(ctx, V.withOwnProto(c.valid(ctx), { podSelector: { matchLabels: { app: 'x' } }, insecureSkipTlsVerify: true })),
      {
        target: c.name,
        why: 'an own "__proto__" prop was dropped',
      },
    );
    scenario(
      'proto-key',
      `${c.name}.own-constructor-key`,
      'reject',
      (ctx) => c.make(ctx, { ...c.valid(ctx), constructor: { name: 'x' } }),
      { target: c.name, why: 'an own "constructor" prop was dropped' },
    );
    if (!c.name.startsWith('EgressCrdStack') && !c.name.includes('Guardrails')) {
      scenario(
        'call-shape',
        `${c.name}.created-in-app-scope`,
        'reject',
        (ctx) => {
          ctx.app.node; // the app, not a stack
          const props = c.valid(ctx);
          const scopeMake = {
            ClusterEgressRule: () => new L.ClusterEgressRule(ctx.app, 'Hostile', props),
            NamespaceEgressRule: () => new L.NamespaceEgressRule(ctx.app, 'Hostile', props),
            ServiceEgressRule: () => new L.ServiceEgressRule(ctx.app, 'Hostile', props),
            ExternalService: () => new L.ExternalService(ctx.app, 'Bank', props),
            AfmDevice: () => new L.AfmDevice(ctx.app, 'Bigip', props),
            SharedBigip: () => new L.SharedBigip(ctx.app, 'Shared', props),
            EgressController: () => new L.EgressController(ctx.app, 'Controller', props),
          }[c.name];
          scopeMake();
        },
        { target: c.name },
      );
    }
  }
  scenario('call-shape', 'EgressGuardrails.applyTo-null-scope', 'reject', () => L.EgressGuardrails.applyTo(null, {}), {
    target: 'EgressGuardrails',
  });
  scenario('call-shape', 'EgressGuardrails.applyTo-string-scope', 'reject', () => L.EgressGuardrails.applyTo('app', {}), {
    target: 'EgressGuardrails',
  });
  scenario('call-shape', 'EgressGuardrails.applyTo-plain-object-scope', 'reject', () => L.EgressGuardrails.applyTo({}, {}), {
    target: 'EgressGuardrails',
  });
  scenario(
    'call-shape',
    'EgressGuardrails.applyTo-stack',
    'accept',
    (ctx) => {
      L.EgressGuardrails.applyTo(ctx.stack, { requireOwner: true });
      new L.NamespaceEgressRule(ctx.stack, 'TeamRule', { ...ruleBase(ctx, ns), owner: 'team-a' });
    },
    { target: 'EgressGuardrails' },
  );

  // -------------------------------------------------------------------------------------------
  // Prototype pollution by another library must not change a rule.
  const pollute = (key, value) => ({
    before() {
      Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true, enumerable: false });
    },
    cleanup() {
      delete Object.prototype[key];
    },
  });
  for (const [key, make, check] of [
    ['audit', () => true, (cr) => O.eq(cr.spec.audit, undefined, 'spec.audit')],
    ['ports', () => [P.allTraffic()], (cr) => O.eq(cr.spec.ports, [{ protocol: 'tcp', port: 443 }], 'spec.ports')],
    ['podSelector', () => ({ matchLabels: { polluted: 'x' } }), (cr) => O.eq(cr.spec.podSelector, undefined, 'spec.podSelector')],
    ['logging', () => 'yes', (cr) => O.eq(cr.spec.logging, undefined, 'spec.logging')],
  ]) {
    const p = pollute(key, make());
    scenario(
      'proto-key',
      `object-prototype-pollution-${key}`,
      'either',
      (ctx) => {
        const device = ctx.device;
        p.before();
        new L.ClusterEgressRule(ctx.stack, 'Hostile', {
          device,
          action: 'DENY',
          destinations: [D.cidr('203.0.113.0/24')],
          ports: [P.HTTPS],
        });
      },
      {
        cleanup: p.cleanup,
        why: `a polluted Object.prototype.${key} changed the rule`,
        verify: (out) => {
          const cr = O.findCr(out, 'ClusterEgressRule', 'hostile');
          return cr ? check(cr) : ['no rule CR'];
        },
      },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Duplicates.
  const device = (ctx, stack, id, extra) => new L.AfmDevice(stack, id, ctx.deviceProps(extra));
  scenario(
    'duplicates',
    'two-devices-one-tenant-one-stack',
    'reject',
    (ctx) => {
      device(ctx, ctx.stack, 'A', { clusterName: 'alpha', tenant: 'k8s_prod' });
      device(ctx, ctx.stack, 'B', { clusterName: 'beta', tenant: 'k8s_prod' });
    },
    { why: 'two AfmDevices share tenant k8s_prod (one policy artifact overwrites the other)' },
  );
  scenario(
    'duplicates',
    'two-devices-one-cluster-one-stack',
    'reject',
    (ctx) => {
      device(ctx, ctx.stack, 'A', {});
      device(ctx, ctx.stack, 'B', {});
    },
    { why: 'two AfmDevices for cluster prod (same tenant)' },
  );
  scenario(
    'duplicates',
    'two-devices-one-tenant-two-stacks-one-bigip',
    'reject',
    (ctx) => {
      device(ctx, ctx.stack, 'A', { clusterName: 'alpha', tenant: 'k8s_prod' });
      device(ctx, ctx.newStack('second'), 'B', { clusterName: 'beta', tenant: 'k8s_prod' });
    },
    { why: 'two declarations own tenant k8s_prod on one BIG-IP' },
  );
  scenario('duplicates', 'two-devices-one-tenant-two-bigips', 'accept', (ctx) => {
    device(ctx, ctx.stack, 'A', { clusterName: 'alpha', tenant: 'k8s_prod' });
    device(ctx, ctx.newStack('second'), 'B', { clusterName: 'beta', tenant: 'k8s_prod', address: 'bigip2.example.net' });
  });
  scenario(
    'duplicates',
    'two-own-devices-one-bigip',
    'reject',
    (ctx) => {
      device(ctx, ctx.stack, 'A', { clusterName: 'alpha' });
      device(ctx, ctx.stack, 'B', { clusterName: 'beta' });
    },
    { why: 'two declarations for one BIG-IP each own /Common/Shared (the second deploy replaces the first); a SharedBigip is needed' },
  );
  scenario(
    'duplicates',
    'two-shared-bigips-one-address',
    'reject',
    (ctx) => {
      const a = new L.SharedBigip(ctx.stack, 'A', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem', name: 'dc_a' });
      const b = new L.SharedBigip(ctx.stack, 'B', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem', name: 'dc_b' });
      new L.AfmDevice(ctx.stack, 'East', { clusterName: 'east', sharedBigip: a, crdStack: ctx.crds, podCidrs: ['10.244.0.0/16'] });
      new L.AfmDevice(ctx.stack, 'West', { clusterName: 'west', sharedBigip: b, crdStack: ctx.crds, podCidrs: ['10.245.0.0/16'] });
    },
    { why: 'two SharedBigips each own /Common/Shared of one BIG-IP' },
  );
  scenario(
    'duplicates',
    'shared-and-own-device-one-address',
    'reject',
    (ctx) => {
      const a = new L.SharedBigip(ctx.stack, 'A', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' });
      new L.AfmDevice(ctx.stack, 'East', { clusterName: 'east', sharedBigip: a, crdStack: ctx.crds, podCidrs: ['10.244.0.0/16'] });
      device(ctx, ctx.stack, 'Own', { clusterName: 'west' });
    },
    { why: 'a SharedBigip and an AfmDevice of its own both own /Common/Shared of one BIG-IP' },
  );
  scenario(
    'duplicates',
    'two-controllers-one-device',
    'reject',
    (ctx) => {
      new L.EgressController(ctx.stack, 'C1', { device: ctx.device, credentialsSecret: 's', caBundleConfigMap: 'ca' });
      new L.EgressController(ctx.stack, 'C2', { device: ctx.device, credentialsSecret: 's', caBundleConfigMap: 'ca', namespace: 'other' });
    },
    { why: 'two controllers push the same lists' },
  );
  scenario(
    'duplicates',
    'two-controllers-one-device-one-namespace',
    'reject',
    (ctx) => {
      new L.EgressController(ctx.stack, 'C1', { device: ctx.device, credentialsSecret: 's', caBundleConfigMap: 'ca' });
      new L.EgressController(ctx.stack, 'C2', { device: ctx.device, credentialsSecret: 's', caBundleConfigMap: 'ca' });
    },
    { why: 'two controllers push the same lists' },
  );
  scenario(
    'duplicates',
    'two-controllers-two-devices-one-namespace',
    'either',
    (ctx) => {
      const a = device(ctx, ctx.stack, 'A', { clusterName: 'alpha' });
      const b = device(ctx, ctx.stack, 'B', { clusterName: 'beta', address: 'bigip2.example.net' });
      new L.EgressController(ctx.stack, 'C1', { device: a, credentialsSecret: 's', caBundleConfigMap: 'ca' });
      new L.EgressController(ctx.stack, 'C2', { device: b, credentialsSecret: 's', caBundleConfigMap: 'ca' });
    },
    { why: 'both controllers create namespace cdktf-ces-system' },
  );
  scenario('duplicates', 'rule-name-twice-one-level', 'reject', (ctx) => {
    new L.NamespaceEgressRule(ctx.stack, 'A', { ...ruleBase(ctx, ns), name: 'same' });
    new L.NamespaceEgressRule(ctx.stack, 'B', { ...ruleBase(ctx, ns), name: 'same' });
  });
  scenario('duplicates', 'rule-name-twice-two-namespaces', 'accept', (ctx) => {
    new L.NamespaceEgressRule(ctx.stack, 'A', { ...ruleBase(ctx, ns), name: 'same' });
    new L.NamespaceEgressRule(ctx.stack, 'B', { ...ruleBase(ctx, { namespace: 'web' }), name: 'same' });
  });
  scenario('duplicates', 'rule-name-twice-two-levels', 'accept', (ctx) => {
    new L.ClusterEgressRule(ctx.stack, 'A', { ...ruleBase(ctx), name: 'same' });
    new L.NamespaceEgressRule(ctx.stack, 'B', { ...ruleBase(ctx, ns), name: 'same' });
  });
  scenario('duplicates', 'external-service-name-twice', 'reject', (ctx) => {
    new L.ExternalService(ctx.stack, 'A', { device: ctx.device, name: 'bank', destinations: [D.address('198.51.100.7')] });
    new L.ExternalService(ctx.stack, 'B', { device: ctx.device, name: 'bank', destinations: [D.address('198.51.100.8')] });
  });
  scenario('duplicates', 'guardrails-name-twice', 'reject', (ctx) => {
    L.EgressGuardrails.applyTo(ctx.app, { name: 'baseline' });
    L.EgressGuardrails.applyTo(ctx.app, { name: 'baseline', requireOwner: true });
  });
  const sharedPair = (ctx, a, b) => {
    const shared = new L.SharedBigip(ctx.newStack('bigip'), 'Shared', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' });
    new L.AfmDevice(ctx.stack, 'East', { sharedBigip: shared, crdStack: ctx.crds, ...a });
    new L.AfmDevice(ctx.stack, 'West', { sharedBigip: shared, crdStack: ctx.crds, ...b });
  };
  scenario('duplicates', 'shared-two-devices-one-tenant', 'reject', (ctx) =>
    sharedPair(
      ctx,
      { clusterName: 'east', tenant: 'k8s_x', podCidrs: ['10.1.0.0/16'], routeDomain: 1 },
      { clusterName: 'west', tenant: 'k8s_x', podCidrs: ['10.2.0.0/16'], routeDomain: 2 },
    ),
  );
  scenario('duplicates', 'shared-one-route-domain-no-pod-cidrs', 'reject', (ctx) =>
    sharedPair(ctx, { clusterName: 'east' }, { clusterName: 'west' }),
  );
  scenario('duplicates', 'shared-overlapping-pod-cidrs', 'reject', (ctx) =>
    sharedPair(ctx, { clusterName: 'east', podCidrs: ['10.0.0.0/8'] }, { clusterName: 'west', podCidrs: ['10.244.0.0/16'] }),
  );
  scenario('duplicates', 'shared-two-route-domains', 'accept', (ctx) =>
    sharedPair(
      ctx,
      { clusterName: 'east', routeDomain: 2, podCidrs: ['10.244.0.0/16'] },
      { clusterName: 'west', routeDomain: 3, podCidrs: ['10.244.0.0/16'] },
    ),
  );
  scenario('duplicates', 'shared-device-also-sets-resolver', 'reject', (ctx) => {
    const shared = new L.SharedBigip(ctx.newStack('bigip'), 'Shared', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' });
    new L.AfmDevice(ctx.stack, 'East', {
      clusterName: 'east',
      sharedBigip: shared,
      crdStack: ctx.crds,
      podCidrs: ['10.244.0.0/16'],
      dnsResolver: '/Common/r',
    });
  });
  scenario(
    'duplicates',
    'shared-without-devices',
    'reject',
    (ctx) => new L.SharedBigip(ctx.stack, 'Shared', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }),
  );

  // -------------------------------------------------------------------------------------------
  // Forced collisions of the 32-bit content digests that name BIG-IP objects. The pairs were
  // found by hashing candidates (first 8 hex digits of SHA-256 of the canonical content):
  // {"a":["10.12.234.1"],"f":[]} and {"a":["11.41.196.1"],"f":[]} share 0d2098a2;
  // app=v66w and app=v8rx selectors share 4414ee73.
  const remarkRules = (out, remark) => O.userRules(out).filter((r) => r.remark === remark);
  const dstOf = (out, rule) =>
    (rule.destination.addressLists || []).flatMap((p) => {
      const list = O.itemByName(out, p.use);
      return [...((list && list.addresses) || []).map((a) => O.canonicalAddress(a)), ...((list && list.fqdns) || [])];
    });
  scenario(
    'collisions',
    'destination-list-digest-collision',
    'accept',
    (ctx) => {
      new L.ClusterEgressRule(ctx.stack, 'SecurityDns', {
        device: ctx.device,
        action: 'ALLOW_FINAL',
        destinations: [D.address('10.12.234.1')],
        ports: [P.DNS_UDP],
        description: 'rule-a',
      });
      new L.NamespaceEgressRule(ctx.stack, 'TeamDeny', {
        device: ctx.device,
        namespace: 'payments',
        action: 'DENY',
        destinations: [D.address('11.41.196.1')],
        description: 'rule-b',
      });
    },
    {
      verify: (out) => {
        const problems = [];
        for (const [remark, want] of [
          ['rule-a', '10.12.234.1'],
          ['rule-b', '11.41.196.1'],
        ]) {
          const rules = remarkRules(out, remark);
          if (rules.length === 0) problems.push(`no AFM rule with remark ${remark}`);
          for (const r of rules)
            if (!O.sameSet(dstOf(out, r), [O.canonicalAddress(want)]))
              problems.push(`AFM rule ${r.name} (${remark}) matches ${JSON.stringify(dstOf(out, r))}, its rule says ${want}`);
        }
        return problems;
      },
    },
  );
  scenario(
    'collisions',
    'source-list-digest-collision',
    'accept',
    (ctx) => {
      new L.NamespaceEgressRule(ctx.stack, 'A', {
        device: ctx.device,
        namespace: 'payments',
        podSelector: { matchLabels: { app: 'v66w' } },
        action: 'DENY',
        destinations: [D.anyIpv4()],
        description: 'rule-a',
      });
      new L.NamespaceEgressRule(ctx.stack, 'B', {
        device: ctx.device,
        namespace: 'payments',
        podSelector: { matchLabels: { app: 'v8rx' } },
        action: 'ALLOW',
        destinations: [D.anyIpv4()],
        description: 'rule-b',
      });
    },
    {
      verify: (out) => {
        const src = (remark) => [
          ...new Set(remarkRules(out, remark).flatMap((r) => r.source.addressLists.map((p) => p.use.slice(p.use.lastIndexOf('/') + 1)))),
        ];
        const a = src('rule-a');
        const b = src('rule-b');
        return a.some((x) => b.includes(x))
          ? [`rules with different pod selectors share source list ${a.filter((x) => b.includes(x))}`]
          : [];
      },
    },
  );

  // -------------------------------------------------------------------------------------------
  // Guardrails that must hold.
  const team = (ctx, id, destinations, extra = {}) =>
    new L.NamespaceEgressRule(ctx.stack, id, {
      device: ctx.device,
      namespace: 'payments',
      action: 'ALLOW',
      destinations,
      ports: [P.HTTPS],
      ...extra,
    });
  const guarded = (id, expect, props, rules, why) =>
    scenario(
      'guardrail',
      `guardrail-${id}`,
      expect,
      (ctx) => {
        L.EgressGuardrails.applyTo(ctx.app, props);
        rules(ctx);
      },
      { why, target: 'EgressGuardrails' },
    );
  guarded(
    'halves-v4',
    'reject',
    {},
    (ctx) => team(ctx, 'Halves', [D.cidr('0.0.0.0/1'), D.cidr('128.0.0.0/1')]),
    '0.0.0.0/1 + 128.0.0.0/1 is every IPv4 address',
  );
  guarded(
    'quarters-v4',
    'reject',
    {},
    (ctx) =>
      team(
        ctx,
        'Quarters',
        ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2', '192.0.0.0/2'].map((c) => D.cidr(c)),
      ),
    'four /2 networks are every IPv4 address',
  );
  guarded(
    'ranges-v4',
    'reject',
    {},
    (ctx) => team(ctx, 'Ranges', [D.range('0.0.0.0', '127.255.255.255'), D.range('128.0.0.0', '255.255.255.255')]),
    'two ranges cover every IPv4 address',
  );
  guarded(
    'full-range-v4',
    'reject',
    {},
    (ctx) => team(ctx, 'Range', [D.range('0.0.0.0', '255.255.255.255')]),
    'one range is every IPv4 address',
  );
  guarded(
    'halves-v6',
    'reject',
    {},
    (ctx) => team(ctx, 'Halves6', [D.cidr('::/1'), D.cidr('8000::/1')]),
    '::/1 + 8000::/1 is every IPv6 address',
  );
  guarded(
    'halves-across-rules',
    'reject',
    {},
    (ctx) => {
      team(ctx, 'Low', [D.cidr('0.0.0.0/1')]);
      team(ctx, 'High', [D.cidr('128.0.0.0/1')]);
    },
    'two team rules of one namespace together allow every IPv4 address',
  );
  guarded(
    'halves-final-and-allow',
    'reject',
    {},
    (ctx) => {
      team(ctx, 'Low', [D.cidr('0.0.0.0/1')], { action: 'ALLOW_FINAL' });
      team(ctx, 'High', [D.cidr('128.0.0.0/1')]);
    },
    'an ALLOW_FINAL and an ALLOW rule of one namespace together allow every IPv4 address',
  );
  guarded(
    'halves-via-external-service',
    'reject',
    {},
    (ctx) => {
      const es = new L.ExternalService(ctx.stack, 'Half', { device: ctx.device, destinations: [D.cidr('0.0.0.0/1')] });
      team(ctx, 'Both', [D.externalService(es), D.cidr('128.0.0.0/1')]);
    },
    'an ExternalService half and an inline half allow every IPv4 address',
  );
  guarded(
    'halves-service-rule',
    'reject',
    {},
    (ctx) => {
      new L.ServiceEgressRule(ctx.stack, 'Svc', {
        device: ctx.device,
        namespace: 'payments',
        service: 'checkout',
        action: 'ALLOW',
        destinations: [D.cidr('0.0.0.0/1'), D.cidr('128.0.0.0/1')],
      });
    },
    'a service rule allows every IPv4 address in two halves',
  );
  guarded('halves-two-namespaces', 'accept', {}, (ctx) => {
    team(ctx, 'Low', [D.cidr('0.0.0.0/1')]);
    new L.NamespaceEgressRule(ctx.stack, 'High', {
      device: ctx.device,
      namespace: 'web',
      action: 'ALLOW',
      destinations: [D.cidr('128.0.0.0/1')],
      ports: [P.HTTPS],
    });
  });
  guarded('deny-all-team-rule', 'accept', {}, (ctx) => team(ctx, 'DenyAll', [D.anyIpv4()], { action: 'DENY' }));
  guarded(
    'cluster-allow-all',
    'accept',
    {},
    (ctx) => new L.ClusterEgressRule(ctx.stack, 'All', { device: ctx.device, action: 'ALLOW', destinations: [D.anyIpv4()] }),
  );
  guarded(
    'owner-spaces',
    'reject',
    { requireOwner: true },
    (ctx) => team(ctx, 'Blank', [D.cidr('203.0.113.0/24')], { owner: '   ' }),
    'an owner of spaces is no owner',
  );
  guarded(
    'ticket-space',
    'reject',
    { requireTicket: true },
    (ctx) => team(ctx, 'Blank', [D.cidr('203.0.113.0/24')], { ticket: ' ' }),
    'a ticket of spaces is no ticket',
  );
  guarded(
    'justification-spaces',
    'reject',
    { requireJustification: true },
    (ctx) => team(ctx, 'Blank', [D.cidr('203.0.113.0/24')], { justification: '  ' }),
    'a justification of spaces is none',
  );
  guarded(
    'owner-empty',
    'reject',
    { requireOwner: true },
    (ctx) => team(ctx, 'Empty', [D.cidr('203.0.113.0/24')], { owner: '' }),
    'an empty owner is no owner',
  );
  guarded('envelope-union', 'accept', { allowedDestinations: [D.cidr('10.0.0.0/9'), D.cidr('10.128.0.0/9')] }, (ctx) =>
    team(ctx, 'Inside', [D.cidr('10.0.0.0/8')]),
  );
  guarded('envelope-outside', 'reject', { allowedDestinations: [D.cidr('10.0.0.0/9')] }, (ctx) =>
    team(ctx, 'Outside', [D.cidr('10.0.0.0/8')]),
  );
  guarded('wildcard-via-external-service', 'reject', { forbidWildcardFqdns: true }, (ctx) => {
    const es = new L.ExternalService(ctx.stack, 'Wild', { device: ctx.device, destinations: [D.fqdn('*.partner.example')] });
    team(ctx, 'Uses', [D.externalService(es)]);
  });
  guarded('warn-mode', 'accept', { mode: 'WARN', requireOwner: true }, (ctx) => team(ctx, 'NoOwner', [D.cidr('203.0.113.0/24')]));
  guarded('on-stack-catch-all', 'reject', {}, (ctx) => team(ctx, 'All', [D.anyIpv6()]));

  // -------------------------------------------------------------------------------------------
  // Mutation of shared and passed-in objects.
  scenario(
    'mutation',
    'public-constant-https',
    'accept',
    (ctx) => {
      try {
        P.HTTPS.toPort = 65535;
      } catch {
        // frozen: the mutation is refused, as it should be
      }
      new L.ClusterEgressRule(ctx.stack, 'Hostile', ruleBase(ctx));
    },
    {
      cleanup() {
        try {
          P.HTTPS.toPort = 443;
        } catch {
          // frozen
        }
      },
      why: 'EgressPort.HTTPS is a mutable shared object',
      verify: (out) =>
        O.eq(
          O.findCr(out, 'ClusterEgressRule', 'hostile').spec.ports,
          [{ protocol: 'tcp', port: 443 }],
          'EgressPort.HTTPS after an attempted mutation',
        ),
    },
  );
  scenario(
    'mutation',
    'public-constant-dns-port',
    'accept',
    (ctx) => {
      try {
        P.DNS_UDP.fromPort = 1;
      } catch {
        // frozen
      }
      new L.ClusterEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx), ports: [P.DNS_UDP] });
    },
    {
      cleanup() {
        try {
          P.DNS_UDP.fromPort = 53;
        } catch {
          // frozen
        }
      },
      verify: (out) =>
        O.eq(
          O.findCr(out, 'ClusterEgressRule', 'hostile').spec.ports,
          [{ protocol: 'udp', port: 53 }],
          'EgressPort.DNS_UDP after an attempted mutation',
        ),
    },
  );
  const unchangedRule = (out, extra = {}) => {
    const cr = O.findCr(out, 'NamespaceEgressRule', 'hostile');
    if (!cr) return ['no rule CR'];
    return [
      ...O.eq(O.crDestinationKeys(cr), ['ip:203.0.113.0/24'], 'CR destinations'),
      ...(O.sameSet(O.destinationListKeys(out), ['ip:203.0.113.0/24'])
        ? []
        : [`AFM destinations ${JSON.stringify(O.destinationListKeys(out))}`]),
      ...O.eq(cr.spec.ports, [{ protocol: 'tcp', port: 443 }], 'CR ports'),
      ...(extra.selector ? O.eq(cr.spec.podSelector, extra.selector, 'CR podSelector') : []),
    ];
  };
  scenario(
    'mutation',
    'destinations-array-after-construction',
    'accept',
    (ctx) => {
      const destinations = [D.cidr('203.0.113.0/24')];
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), destinations });
      destinations.push(D.anyIpv4());
    },
    { verify: (out) => unchangedRule(out) },
  );
  scenario(
    'mutation',
    'ports-array-after-construction',
    'accept',
    (ctx) => {
      const ports = [P.HTTPS];
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), ports });
      ports.length = 0;
    },
    { verify: (out) => unchangedRule(out) },
  );
  scenario(
    'mutation',
    'selector-after-construction',
    'accept',
    (ctx) => {
      const podSelector = { matchLabels: { app: 'checkout' } };
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), podSelector });
      delete podSelector.matchLabels.app;
    },
    { verify: (out) => unchangedRule(out, { selector: { matchLabels: { app: 'checkout' } } }) },
  );
  scenario(
    'mutation',
    'destination-object-after-construction',
    'accept',
    (ctx) => {
      const d = D.cidr('203.0.113.0/24');
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), destinations: [d] });
      if (d.input && typeof d.input === 'object') d.input.value = '0.0.0.0/0';
    },
    { verify: (out) => unchangedRule(out) },
  );
  scenario(
    'mutation',
    'port-object-after-construction',
    'accept',
    (ctx) => {
      const p = P.tcp(443);
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), ports: [p] });
      try {
        p.fromPort = 1;
        p.toPort = 65535;
      } catch {
        // frozen
      }
    },
    { verify: (out) => unchangedRule(out) },
  );
  scenario(
    'mutation',
    'pod-cidrs-after-construction',
    'accept',
    (ctx) => {
      const podCidrs = ['10.244.0.0/16'];
      new L.AfmDevice(ctx.stack, 'Bigip', ctx.deviceProps({ podCidrs }));
      podCidrs[0] = '0.0.0.0/0';
    },
    {
      verify: (out) => {
        // Each virtual address is [destination, source]: the sources are the pod CIDRs.
        const vs = O.as3Objects(out, 'Service_L4')[0];
        const addrs = vs ? vs.obj.virtualAddresses.map((pair) => O.canonicalAddress(pair[1])) : [];
        return addrs.includes(O.canonicalAddress('10.244.0.0/16')) && !addrs.includes(O.canonicalAddress('0.0.0.0/0'))
          ? []
          : [`virtual addresses ${JSON.stringify(addrs)}`];
      },
    },
  );
  scenario(
    'mutation',
    'guardrail-props-after-apply',
    'reject',
    (ctx) => {
      const props = { forbidCatchAll: true };
      L.EgressGuardrails.applyTo(ctx.app, props);
      props.forbidCatchAll = false;
      team(ctx, 'All', [D.anyIpv4()]);
    },
    { why: 'changing the props after applyTo switched the guardrail off' },
  );
  scenario(
    'mutation',
    'external-service-destinations-after-construction',
    'accept',
    (ctx) => {
      const destinations = [D.address('198.51.100.7')];
      new L.ExternalService(ctx.stack, 'Bank', { device: ctx.device, destinations });
      destinations.push(D.anyIpv4());
    },
    {
      verify: (out) =>
        O.eq(O.crDestinationKeys(O.findCr(out, 'ExternalService', 'bank')), ['ip:198.51.100.7'], 'ExternalService destinations'),
    },
  );

  // -------------------------------------------------------------------------------------------
  // Cross-prop semantics.
  scenario('semantics', 'fqdn-without-resolver', 'reject', (ctx) => {
    const d = new L.AfmDevice(ctx.stack, 'Bigip', { ...ctx.deviceProps(), dnsResolver: undefined });
    new L.ClusterEgressRule(ctx.stack, 'Time', { device: d, action: 'ALLOW', destinations: [D.fqdn('time.example.com')] });
  });
  scenario('semantics', 'rule-in-other-app-than-external-service', 'reject', (ctx) => {
    const other = ctx.cdktf.Testing.app();
    const s = new ctx.cdktf.TerraformStack(other, 'egress');
    const d = new L.AfmDevice(s, 'Bigip', { ...ctx.deviceProps(), crdStack: new L.EgressCrdStack(other, 'crds') });
    const es = new L.ExternalService(s, 'Bank', { device: d, destinations: [D.address('198.51.100.7')] });
    new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), destinations: [D.externalService(es)] });
  });
  scenario('semantics', 'external-service-in-other-stack', 'reject', (ctx) => {
    const es = new L.ExternalService(ctx.newStack('other'), 'Bank', { device: ctx.device, destinations: [D.address('198.51.100.7')] });
    new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), destinations: [D.externalService(es)] });
  });

  // -------------------------------------------------------------------------------------------
  // Policies at every limit at once: every accepted input must render schema-valid AS3.
  const maxPolicy = (ctx, deviceExtra, stack = ctx.stack, dev) => {
    const cluster = repeat('c', 39) + 'z';
    const d =
      dev ||
      new L.AfmDevice(
        stack,
        'Bigip',
        ctx.deviceProps({
          clusterName: cluster,
          routeDomain: 65534,
          podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
          auditMode: false,
          logging: { syslogServers: ['192.0.2.5:514', '[2001:db8::5]:514'] },
          ...deviceExtra,
        }),
      );
    const n63 = repeat('n', 62) + 'z';
    const s63 = repeat('s', 62) + 'z';
    const r63 = repeat('r', 62) + 'z';
    const meta = { owner: 'team; (ops) @ #1', ticket: 'SEC-1/2', justification: 'a+b=c, d: e.' };
    for (const audit of [false, true]) {
      const suffix = audit ? 'y' : 'z';
      new L.ClusterEgressRule(stack, `C${suffix}`, {
        device: d,
        name: repeat('r', 62) + suffix,
        action: 'ALLOW',
        audit,
        destinations: [D.cidr('198.51.100.0/24'), D.fqdn(`${repeat('f', 63)}.example.com`)],
        ports: [P.tcpRange(1, 65535), P.udp(53)],
        podSelector: { matchLabels: { [repeat('k', 63)]: repeat('v', 63) } },
        logging: true,
        bandwidthLimit: { maxBandwidth: 320, unit: 'Gbps' },
        ...meta,
      });
      new L.NamespaceEgressRule(stack, `N${suffix}`, {
        device: d,
        name: r63,
        namespace: repeat('n', 62) + suffix,
        action: 'ALLOW_FINAL',
        audit,
        destinations: [D.range('2001:db8::1', '2001:db8::ffff')],
        schedule: { startTime: '00:00', endTime: '24:00', timeZone: 'Asia/Kathmandu' },
        expiresAt: '2099-12-31T23:59:59Z',
        ...meta,
      });
      new L.ServiceEgressRule(stack, `S${suffix}`, {
        device: d,
        name: repeat('r', 62) + suffix,
        namespace: n63,
        service: repeat('s', 62) + suffix,
        action: audit ? 'DENY' : 'ALLOW',
        audit,
        destinations: [D.anyIpv6()],
        ports: [P.icmpv6()],
        description: repeat('d', 64),
      });
    }
    return { s63 };
  };
  scenario('limits', 'max-lengths-everywhere', 'accept', (ctx) => maxPolicy(ctx, {}));
  // At a 48-character tenant and application a clean refusal ("shorten …") is as good as acceptance.
  scenario('limits', 'max-lengths-long-tenant', 'either', (ctx) =>
    maxPolicy(ctx, { tenant: repeat('T', 48), application: repeat('A', 48) }),
  );
  scenario('limits', 'max-lengths-shared-bigip', 'either', (ctx) => {
    const shared = new L.SharedBigip(ctx.newStack('bigip'), 'Shared', {
      address: 'bigip.example.net',
      tlsCaBundlePath: '/ca.pem',
      dnsResolver: '/Common/r',
      name: repeat('S', 48),
    });
    const d = new L.AfmDevice(ctx.stack, 'Bigip', {
      clusterName: repeat('c', 39) + 'z',
      sharedBigip: shared,
      crdStack: ctx.crds,
      tenant: repeat('T', 48),
      routeDomain: 65534,
      podCidrs: ['10.244.0.0/16'],
    });
    maxPolicy(ctx, {}, ctx.stack, d);
  });
  scenario('limits', 'audit-rule-39-char-cluster', 'accept', (ctx) => {
    const d = new L.AfmDevice(ctx.stack, 'Bigip', ctx.deviceProps({ clusterName: repeat('c', 38) + 'z' }));
    new L.ClusterEgressRule(ctx.stack, 'Audit', { device: d, action: 'DENY', audit: true, destinations: [D.anyIpv4()] });
    new L.ClusterEgressRule(ctx.stack, 'Enforced', { device: d, action: 'ALLOW', destinations: [D.address('10.96.0.10')] });
  });
  scenario('limits', 'device-audit-mode-max-cluster', 'accept', (ctx) => {
    const d = new L.AfmDevice(ctx.stack, 'Bigip', ctx.deviceProps({ clusterName: repeat('c', 39) + 'z', auditMode: true }));
    new L.NamespaceEgressRule(ctx.stack, 'Rule', {
      device: d,
      namespace: 'payments',
      action: 'ALLOW',
      destinations: [D.address('10.96.0.10')],
    });
  });
  scenario(
    'limits',
    'metadata-remark-at-64',
    'accept',
    (ctx) => {
      // "<ticket> <owner>: <justification>" is 5 + 1 + 20 + 2 + 36 = 64 characters.
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', {
        ...ruleBase(ctx, ns),
        ticket: 'SEC-1',
        owner: repeat('o', 20),
        justification: repeat('j', 36),
      });
    },
    {
      verify: (out) => {
        const want = `SEC-1 ${repeat('o', 20)}: ${repeat('j', 36)}`;
        return O.userRules(out).every((r) => r.remark === want)
          ? []
          : [`remark ${JSON.stringify(O.userRules(out)[0] && O.userRules(out)[0].remark)} is not ${JSON.stringify(want)}`];
      },
    },
  );
  scenario(
    'limits',
    'metadata-remark-over-64',
    'either',
    (ctx) => {
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', {
        ...ruleBase(ctx, ns),
        ticket: 'SEC-1',
        owner: repeat('o', 20),
        justification: repeat('j', 37),
      });
    },
    {
      verify: (out) => {
        const cr = O.findCr(out, 'NamespaceEgressRule', 'hostile');
        return [
          ...O.eq(cr.metadata.annotations[`${O.API}/justification`], repeat('j', 37), 'justification annotation'),
          ...(O.userRules(out).every((r) => !r.remark || r.remark.length <= 64) ? [] : ['a remark is over 64 characters']),
        ];
      },
    },
  );
  scenario(
    'limits',
    'ten-thousand-destinations',
    'either',
    (ctx) => {
      const destinations = [];
      for (let i = 0; i < 10000; i++) destinations.push(D.address(`10.${(i >> 8) & 255}.${i & 255}.1`));
      new L.NamespaceEgressRule(ctx.stack, 'Hostile', { ...ruleBase(ctx, ns), destinations });
    },
    {
      verify: (out) => (O.destinationListKeys(out).length === 10000 ? [] : [`${O.destinationListKeys(out).length} destinations rendered`]),
    },
  );
}

module.exports = { scenarioCases };
