import { refusal } from './synthesized';
/**
 * Random valid AfmDevice and EgressController props, then one random unknown or misplaced key
 * (or one prop replaced by a random value): construction never ignores the key and never fails
 * with anything but a named EgressPolicyError.
 */
import fc from 'fast-check';
import { tenantProblem } from '../../lib/policy/names';
import { TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  DefaultAction,
  EgressController,
  EgressCrdStack,
  EgressPolicyError,
  EgressSnat,
  SyslogTransport,
} from '../../lib';

type Loose = Record<string, unknown>;
/** The props a factory needs that fast-check cannot make: the app's own constructs. */
type Build = (extra: Loose) => unknown;

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const withoutUndefined = (o: Loose): Loose => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const clusterName = fc.stringMatching(/^[a-z]([a-z0-9-]{0,32}[a-z0-9])?$/);
// Not a name AS3 reserves: Common, Shared, and the declaration's own properties (`id`, `label`, …).
const tenant = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,30}$/).filter((t) => tenantProblem(t) === undefined);

/** Device props without the references (crdStack), drawn so that they are valid together. */
const deviceSettings = fc
  .record({
    clusterName,
    tenant: optional(tenant),
    application: optional(fc.constantFrom('egress', 'app_1')),
    routeDomain: optional(fc.integer({ min: 0, max: 65534 })),
    defaultAction: optional(fc.constantFrom(DefaultAction.DENY, DefaultAction.REJECT, DefaultAction.ALLOW)),
    podCidrs: optional(
      fc.subarray(['10.244.0.0/16', '10.245.0.0/16', '172.16.0.0/12', 'fd00:10:244::/56', '2001:db8:1::/48'], { minLength: 1 }),
    ),
    vlans: optional(fc.subarray(['/Common/k8s', '/Common/internal', '/Common/vlan.10'], { minLength: 1 })),
    gateways: optional(fc.subarray(['192.0.2.1', '192.0.2.2', '2001:db8::1'])),
    snat: optional(
      fc.oneof(
        fc.constant(EgressSnat.automap()),
        fc.constant(EgressSnat.none()),
        fc.subarray(['192.0.2.200', '192.0.2.201', '2001:db8::200'], { minLength: 1 }).map((a) => EgressSnat.pool(a)),
      ),
    ),
    auditMode: optional(fc.boolean()),
    logging: optional(
      fc.record(
        {
          syslogServers: fc.subarray(['192.0.2.50:514', '192.0.2.50:6514', '[2001:db8::50]:514']),
          syslogTransport: fc.constantFrom(SyslogTransport.TCP, SyslogTransport.UDP),
          localDatabase: fc.boolean(),
          logIpErrors: fc.boolean(),
          logTcpErrors: fc.boolean(),
          logTcpEvents: fc.boolean(),
          logDefaultAction: fc.boolean(),
          fields: fc.subarray(['date-time', 'action', 'src-ip', 'dest-ip', 'dest-port'], { minLength: 1 }),
        },
        { requiredKeys: [] },
      ),
    ),
    ipIntelligencePolicy: optional(fc.constant('/Common/egress-ipi')),
    protocolInspectionProfile: optional(fc.constant('/Common/egress-inspection')),
    dnsResolver: optional(fc.constant('/Common/egress-resolver')),
    address: fc.constantFrom('bigip.example.net', '192.0.2.10', '[2001:db8::10]', 'BIGIP-1.example.NET'),
    port: optional(fc.integer({ min: 1, max: 65535 })),
    credentials: optional(
      fc.oneof(
        fc.constant(BigipCredentials.fromEnvironment()),
        fc
          .record(
            { usernameVariable: fc.constantFrom('bigip_user', '_u'), passwordVariable: fc.constantFrom('bigip_password', 'pw-1') },
            { requiredKeys: [] },
          )
          .map((n) => BigipCredentials.fromVariables(n)),
      ),
    ),
    tls: fc.oneof(
      fc.constantFrom('/etc/ssl/bigip-ca.pem', 'C:\\certs\\bigip.pem', './ca.pem').map((p) => ({ tlsCaBundlePath: p })),
      fc.constant({ insecureSkipTlsVerify: true }),
    ),
  })
  .map(({ tls, ...rest }) => withoutUndefined({ ...rest, ...servingPodFamilies(rest), ...namedRouteDomain(rest), ...tls }));

/** A route domain named otherwise than its id, on some draws (its id must be given). */
function namedRouteDomain(p: { routeDomain?: number; clusterName: string }): { routeDomainName?: string } {
  return p.routeDomain !== undefined && p.routeDomain > 0 && p.clusterName.length % 2 === 0
    ? { routeDomainName: `/Common/rd_${p.clusterName.replace(/-/g, '_')}` }
    : {};
}

/** Gateways and a SNAT pool need an address of each pod family: add the missing one. */
function servingPodFamilies(p: { podCidrs?: string[]; gateways?: string[]; snat?: EgressSnat }): {
  gateways?: string[];
  snat?: EgressSnat;
} {
  const families = new Set((p.podCidrs ?? []).map((c) => (c.includes(':') ? 6 : 4)));
  const cover = (addresses: string[], v4: string, v6: string) => [
    ...addresses,
    ...(families.has(4) && !addresses.some((a) => !a.includes(':')) ? [v4] : []),
    ...(families.has(6) && !addresses.some((a) => a.includes(':')) ? [v6] : []),
  ];
  return {
    gateways: p.gateways?.length ? cover(p.gateways, '192.0.2.1', '2001:db8::1') : p.gateways,
    snat: p.snat?.mode === 'POOL' ? EgressSnat.pool(cover(p.snat.addresses, '192.0.2.200', '2001:db8::200')) : p.snat,
  };
}

const controllerSettings = fc
  .record({
    namespace: optional(fc.constantFrom('cdktf-ces-system', 'egress', 'kube-system')),
    createNamespace: optional(fc.boolean()),
    credentialsSecret: fc.constantFrom('bigip-login', 'bigip.credentials'),
    usernameKey: optional(fc.constantFrom('username', 'user')),
    passwordKey: optional(fc.constantFrom('password', 'pass.word')),
    bigipUrl: optional(fc.constantFrom('https://bigip.example.net', 'https://192.0.2.10:8443/', 'https://[2001:db8::10]')),
    image: fc.constantFrom('registry.example/cdktf-ces:1', 'localhost:5000/ctl', `ctl@sha256:${'f'.repeat(64)}`),
    nodeImage: optional(fc.constantFrom('node:22-alpine', 'mirror.example/library/node:22')),
    replicas: optional(fc.integer({ min: 1, max: 5 })),
    cpuRequest: optional(fc.constantFrom('50m', '1')),
    memoryRequest: optional(fc.constantFrom('128Mi', '256Mi')),
    memoryLimit: optional(fc.constantFrom('256Mi', '2Gi')),
    coalesceMs: optional(fc.integer({ min: 0, max: 60000 })),
    maxPushesPerSecond: optional(fc.integer({ min: 1, max: 1000 })),
    logLevel: optional(fc.constantFrom('debug', 'info', 'warn', 'error')),
    tls: fc.oneof(
      fc.record({ caBundleConfigMap: fc.constantFrom('bigip-ca'), caBundleKey: optional(fc.constantFrom('ca.crt', 'bundle.pem')) }),
      fc.constant({ insecureSkipTlsVerify: true }),
    ),
  })
  // A system namespace is never created: leave it to the cluster.
  .map(({ tls, ...rest }) =>
    withoutUndefined({ ...rest, ...tls, ...(rest.namespace === 'kube-system' ? { createNamespace: false } : {}) }),
  );

/** Keys of other constructs that users put on the wrong one, and random names. */
const MISPLACED_ON_DEVICE = [
  'credentialsSecret',
  'caBundleConfigMap',
  'image',
  'replicas',
  'namespace',
  'kubernetes',
  'name',
  'action',
  'destinations',
  'audit',
  'syslogServers',
  'username',
  'password',
];
const MISPLACED_ON_CONTROLLER = [
  'address',
  'port',
  'credentials',
  'tlsCaBundlePath',
  'clusterName',
  'podCidrs',
  'sharedBigip',
  'crdStack',
  'tenant',
  'kubernetes',
  'auditMode',
];
const unknownKey = (own: readonly string[], misplaced: readonly string[]) =>
  fc
    .oneof(
      fc.constantFrom(...misplaced),
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'podSelecter', 'clustername', 'podCIDRs', 'insecure'),
    )
    .filter((k) => !own.includes(k));

const DEVICE_KEYS = [
  'address',
  'port',
  'credentials',
  'tlsCaBundlePath',
  'insecureSkipTlsVerify',
  'clusterName',
  'sharedBigip',
  'crdStack',
  'tenant',
  'application',
  'routeDomain',
  'routeDomainName',
  'defaultAction',
  'podCidrs',
  'vlans',
  'gateways',
  'snat',
  'auditMode',
  'logging',
  'ipIntelligencePolicy',
  'protocolInspectionProfile',
  'dnsResolver',
];
const CONTROLLER_KEYS = [
  'device',
  'namespace',
  'createNamespace',
  'credentialsSecret',
  'usernameKey',
  'passwordKey',
  'caBundleConfigMap',
  'caBundleKey',
  'insecureSkipTlsVerify',
  'bigipUrl',
  'image',
  'nodeImage',
  'replicas',
  'cpuRequest',
  'memoryRequest',
  'memoryLimit',
  'coalesceMs',
  'maxPushesPerSecond',
  'logLevel',
];

function newApp() {
  const app = Testing.app();
  const crds = refusal(() => new EgressCrdStack(app, 'crds'));
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  return { crds, stack };
}

/** Builds a device from `settings` (plus `extra`) in a fresh app. */
const deviceBuilder =
  (settings: Loose): Build =>
  (extra) => {
    const { crds, stack } = newApp();
    return refusal(() => new AfmDevice(stack, 'Bigip', { ...settings, crdStack: crds, ...extra } as any));
  };

/** Builds a valid device, then a controller from `settings` (plus `extra`). */
const controllerBuilder =
  (settings: Loose): Build =>
  (extra) => {
    const { crds, stack } = newApp();
    const device = refusal(
      () =>
        new AfmDevice(stack, 'Bigip', { clusterName: 'prod', address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem', crdStack: crds }),
    );
    return refusal(() => new EgressController(stack, 'Controller', { ...settings, device, ...extra } as any));
  };

/** The EgressPolicyError `build(extra)` throws, or undefined; any other exception fails the property. */
function policyError(build: Build, extra: Loose): EgressPolicyError | undefined {
  try {
    build(extra);
    return undefined;
  } catch (e) {
    if (e instanceof EgressPolicyError) return e;
    throw e;
  }
}

const withKey = (key: string, value: unknown): Loose => {
  const o: Loose = {};
  // defineProperty: `__proto__` stays an own key, as JSON.parse or a computed key makes it.
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
  return o;
};

describe.each([
  ['AfmDevice', deviceSettings.map(deviceBuilder), DEVICE_KEYS, MISPLACED_ON_DEVICE],
  ['EgressController', controllerSettings.map(controllerBuilder), CONTROLLER_KEYS, MISPLACED_ON_CONTROLLER],
] as const)('%s', (_, builds, own, misplaced) => {
  test('random valid props construct', () => {
    fc.assert(
      fc.property(builds, (build) => {
        expect(policyError(build, {})).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });

  test('one unknown or misplaced key, whatever its value, fails construction naming that key', () => {
    fc.assert(
      fc.property(builds, unknownKey(own, misplaced), fc.anything(), (build, key, value) => {
        const error = policyError(build, withKey(key, value));
        expect(error).toBeDefined();
        const onKey = error!.issues.filter((i) => i.field === key);
        expect(onKey).toHaveLength(1);
        expect(onKey[0].path).toMatch(/^egress\/(Bigip|Controller)$/);
        expect(onKey[0].message).toMatch(
          /^is not a prop of an? (AfmDevice|EgressController)(: |, and an unknown prop is never ignored: (did you mean "[A-Za-z]+"\?|remove it;))/,
        );
        // Nothing else is wrong with the props.
        expect(error!.issues).toEqual(onKey);
      }),
      { numRuns: 150 },
    );
  });

  test('any value for any prop is accepted or refused by name, never with another error', () => {
    fc.assert(
      fc.property(
        builds,
        fc.constantFrom(...own.filter((k) => k !== 'crdStack' && k !== 'device')),
        fc.anything({
          withNullPrototype: true,
          withBoxedValues: true,
          withBigInt: true,
          withMap: true,
          withSet: true,
          withDate: true,
          withTypedArray: true,
          withSparseArray: true,
        }),
        (build, key, value) => {
          const error = policyError(build, withKey(key, value));
          if (error) for (const issue of error.issues) expect(issue.field).not.toBe('');
        },
      ),
      { numRuns: 150 },
    );
  });
});
