'use strict';
/**
 * Builds the environment (the library as a JavaScript user loads it, the AS3 and CRD
 * validators, a synthesized app for the CLI), generates every case and runs them in order.
 */
const fs = require('node:fs');
const path = require('node:path');
const H = require('./harness');
const { ruleCases, externalServiceCases } = require('./cases-props');
const { deviceCases, sharedBigipCases, controllerCases, guardrailCases, crdStackCases } = require('./cases-infra');
const { scenarioCases } = require('./cases-scenarios');
const { cliCases } = require('./cases-cli');

/** The value-object classes whose static factories every case may call. */
const FACTORY_CLASSES = ['EgressPort', 'EgressDestination', 'EgressSnat', 'BigipCredentials', 'EgressRedirect', 'EgressIRule'];
const FACTORY_SOURCES = {
  EgressPort: path.join(__dirname, '../../lib/policy/port.ts'),
  EgressDestination: path.join(__dirname, '../../lib/policy/destination.ts'),
  EgressSnat: path.join(__dirname, '../../lib/policy/device.ts'),
  BigipCredentials: path.join(__dirname, '../../lib/constructs/credentials.ts'),
  EgressRedirect: path.join(__dirname, '../../lib/policy/redirect.ts'),
  EgressIRule: path.join(__dirname, '../../lib/policy/irule.ts'),
};

/**
 * Records which static factories a case calls (so the test can prove each one is exercised).
 * The classes are frozen, so cases get a view of the library whose factory classes are
 * proxies over plain objects: a call through them is recorded, then made on the real class.
 */
function instrumentFactories(L) {
  const calls = new Set();
  const view = { ...L };
  for (const cls of FACTORY_CLASSES) {
    const C = L[cls];
    const wrappers = new Map();
    view[cls] = new Proxy(
      {},
      {
        get(_, name) {
          const v = C[name];
          if (typeof v !== 'function' || typeof name !== 'string' || ['length', 'name', 'prototype'].includes(name)) return v;
          if (!wrappers.has(name)) {
            wrappers.set(name, function (...args) {
              calls.add(`${cls}.${name}`);
              return v.apply(C, args);
            });
          }
          return wrappers.get(name);
        },
        set(_, name, value) {
          C[name] = value;
          return true;
        },
        has: (_, name) => name in C,
        ownKeys: () => Reflect.ownKeys(C),
        getOwnPropertyDescriptor: (_, name) => {
          const d = Object.getOwnPropertyDescriptor(C, name);
          return d && { ...d, configurable: true };
        },
        getPrototypeOf: () => Object.getPrototypeOf(C),
      },
    );
  }
  // The public static factories, as the sources declare them (private helpers and `isX` type
  // guards are functions on the class at run time too, but no caller can use them as factories).
  const all = FACTORY_CLASSES.flatMap((cls) => {
    const source = fs.readFileSync(FACTORY_SOURCES[cls], 'utf8');
    const names = [...source.matchAll(/public static (\w+)\(/g)].map((m) => m[1]).filter((n) => !/^is[A-Z]/.test(n));
    return names.filter((n) => typeof L[cls][n] === 'function').map((n) => `${cls}.${n}`);
  });
  return { calls, all, view };
}

function generate(L) {
  const cases = [];
  const ids = new Set();
  const add = (c) => {
    if (ids.has(c.id)) throw new Error(`duplicate case id ${c.id}`);
    ids.add(c.id);
    cases.push(c);
  };
  ruleCases(L, add);
  externalServiceCases(L, add);
  deviceCases(L, add);
  sharedBigipCases(L, add);
  controllerCases(L, add);
  guardrailCases(L, add);
  crdStackCases(L, add);
  scenarioCases(L, add);
  cliCases(add);
  return cases;
}

/** A small app synthesized for the CLI: DNS at the cluster level, a namespace and two service rules. */
function synthFixture(env, outdir, { cluster = 'prod', changed = false } = {}) {
  const { L, cdktf, KubernetesProvider } = env;
  const D = L.EgressDestination;
  const P = L.EgressPort;
  const app = new cdktf.App({ outdir, stackTraces: false });
  const crds = new L.EgressCrdStack(app, 'crds');
  const stack = new cdktf.TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new L.AfmDevice(stack, 'Bigip', {
    clusterName: cluster,
    tenant: 'k8s_prod',
    address: 'bigip.example.net',
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    crdStack: crds,
    dnsResolver: '/Common/egress-resolver',
    podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  });
  new L.ClusterEgressRule(stack, 'AllowDns', {
    device,
    action: 'ALLOW_FINAL',
    destinations: [D.address('10.96.0.10')],
    ports: [P.DNS_UDP, P.DNS_TCP],
  });
  new L.NamespaceEgressRule(stack, 'BankSftp', {
    device,
    namespace: 'payments',
    action: 'ALLOW',
    destinations: [D.range('198.51.100.10', '198.51.100.20')],
    ports: [P.SSH],
  });
  new L.ServiceEgressRule(stack, 'CheckoutToStripe', {
    device,
    namespace: 'payments',
    service: 'checkout',
    action: 'ALLOW',
    destinations: [D.fqdn('api.stripe.com')],
    ports: [P.HTTPS],
  });
  new L.ServiceEgressRule(stack, 'CommentsNoEgress', {
    device,
    namespace: 'payments',
    service: 'comments',
    action: 'DENY',
    destinations: [D.anyIpv4(), D.anyIpv6()],
  });
  if (changed)
    new L.NamespaceEgressRule(stack, 'WebOut', {
      device,
      namespace: 'web',
      action: 'ALLOW',
      destinations: [D.cidr('203.0.113.0/24')],
      ports: [P.HTTPS],
    });
  app.synth();
  return outdir;
}

async function runAll({ filter } = {}) {
  const library = require('../../lib');
  const cdktf = require('cdktf');
  const { KubernetesProvider } = require('@cdktf/provider-kubernetes/lib/provider');
  const { as3Validator } = require('../support/as3-schema');
  const { CrdValidator } = require('../support/crd-validate');
  const { mergeAs3 } = require('../../lib/afm/as3');
  const { run } = require('../../lib/cli/main');
  const factories = instrumentFactories(library);
  const L = factories.view;
  const tmp = H.tmpRoot();
  const env = { L, cdktf, KubernetesProvider, tmp, as3Validator: as3Validator(), CrdValidator, mergeAs3 };
  const cliDir = path.join(tmp, 'cli');
  fs.mkdirSync(cliDir);
  env.cli = {
    run,
    dir: cliDir,
    output: synthFixture(env, path.join(cliDir, 'cdktf.out')),
    changed: synthFixture(env, path.join(cliDir, 'changed.out'), { changed: true }),
    otherCluster: synthFixture(env, path.join(cliDir, 'other.out'), { cluster: 'staging' }),
  };
  const pattern = filter ? new RegExp(filter) : undefined;
  const cases = generate(L).filter((c) => !pattern || pattern.test(c.id));
  const results = [];
  try {
    for (const c of cases) {
      factories.calls.clear();
      let r;
      const started = Date.now();
      try {
        r = c.kind === 'cli' ? await H.runCliCase(c, env) : H.runConstructCase(c, env);
      } catch (e) {
        r = { cls: 'internal', detail: `the harness failed: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e)}` };
      }
      results.push({
        id: c.id,
        category: c.category,
        target: c.target,
        expect: c.expect,
        factories: [...factories.calls],
        ms: Date.now() - started,
        ...r,
      });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const calledFactories = new Set(results.flatMap((r) => r.factories));
  return {
    results,
    table: H.tally(results),
    as3: !!env.as3Validator,
    factories: { all: factories.all, uncalled: factories.all.filter((f) => !calledFactories.has(f)) },
  };
}

module.exports = { runAll, generate };
