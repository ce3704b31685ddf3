import { refusal } from './synthesized';
/**
 * Props of the device-side constructs as plain JavaScript can pass them: every unknown,
 * misplaced, mistyped or unsafe value is refused with the construct path, the field, the value
 * and a fix, never dropped, coerced by truthiness or passed to cdk.tf.json.
 */
import { App, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, BigipCredentials, EgressController, EgressCrdStack, EgressSnat, PolicyIssue, SharedBigip } from '../../lib';
import { synthJson } from '../support/app';
import { issuesOf } from '../support/issues';

/** What plain JavaScript may pass: TypeScript's checks do not apply. */
type Loose = Record<string, any>;

function base(app: App = Testing.app()) {
  const crds = refusal(() => new EgressCrdStack(app, 'crds'));
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  return { app, crds, stack };
}

const deviceProps = (crds: EgressCrdStack): Loose => ({
  clusterName: 'prod',
  address: 'bigip.example.net',
  tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
  crdStack: crds,
});

let counter = 0;
/** A fresh app with one AfmDevice built from the valid props plus `extra` (undefined values remove a prop). */
function device(extra: Loose = {}) {
  const { app, crds, stack } = base();
  const props = { ...deviceProps(crds), ...extra };
  for (const k of Object.keys(props)) if (props[k] === undefined) delete props[k];
  const d = refusal(() => new AfmDevice(stack, `Bigip${counter++}`, props as any));
  return { app, crds, stack, device: d };
}

function controller(extra: Loose = {}) {
  const { stack, device: d } = device();
  const props = {
    device: d,
    credentialsSecret: 'bigip-login',
    caBundleConfigMap: 'bigip-ca',
    image: 'registry.example/cdktf-ces:1',
    ...extra,
  };
  for (const k of Object.keys(props)) if ((props as Loose)[k] === undefined) delete (props as Loose)[k];
  const c = refusal(() => new EgressController(stack, 'Controller', props as any));
  return { stack, device: d, controller: c };
}

function sharedBigip(extra: Loose = {}) {
  const { stack } = base();
  return refusal(() => new SharedBigip(stack, 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem', ...extra } as any));
}

/** The issues of the EgressPolicyError `fn` throws; anything else (a TypeError) fails the test. */

/** The one issue on `field`: it names the path and the value, and its message matches `message` (the fix). */
function issueOn(fn: () => unknown, field: string, message: RegExp): PolicyIssue {
  const found = issuesOf(fn).filter((i) => i.field === field);
  expect(found).toHaveLength(1);
  expect(found[0].path).toMatch(/^(egress|x)\/[A-Za-z0-9]+$|^c$/);
  expect(found[0].value).not.toBe('');
  expect(found[0].message).toMatch(message);
  return found[0];
}

const deploymentEnv = (stack: TerraformStack): { name: string; value?: string }[] =>
  (Object.values(synthJson(stack).resource.kubernetes_manifest) as any[]).map((r) => r.manifest).find((m) => m.kind === 'Deployment').spec
    .template.spec.containers[0].env;

describe('props objects from JavaScript', () => {
  const missing: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a string', 'prod'],
    ['a number', 42],
    ['an array', []],
  ];

  test.each(missing)('AfmDevice, SharedBigip and EgressController with %s as props: one named issue, no TypeError', (_, props) => {
    const { stack } = base();
    for (const [make, what] of [
      [
        () => refusal(() => new AfmDevice(stack, 'Bigip', props as any)),
        /^expected the props object of an AfmDevice: \{ clusterName, crdStack, address, tlsCaBundlePath, \.\.\. \}/,
      ],
      [
        () => refusal(() => new SharedBigip(stack, 'Dc1', props as any)),
        /^expected the props object of a SharedBigip: \{ address, tlsCaBundlePath/,
      ],
      [
        () => refusal(() => new EgressController(stack, 'Controller', props as any)),
        /^expected the props object of an EgressController: \{ device, credentialsSecret, caBundleConfigMap/,
      ],
    ] as const) {
      const issues = issuesOf(make);
      expect(issues).toEqual([
        { path: expect.stringMatching(/^egress\//), field: '(props)', value: expect.any(String), message: expect.stringMatching(what) },
      ]);
    }
  });

  test('EgressCrdStack with null or an array as props', () => {
    expect(issuesOf(() => refusal(() => new EgressCrdStack(Testing.app(), 'c', null as any)))).toEqual([
      { path: 'c', field: '(props)', value: 'null', message: 'expected the props object of an EgressCrdStack: { kubernetes? }' },
    ]);
    expect(issuesOf(() => refusal(() => new EgressCrdStack(Testing.app(), 'c', { kubernetes: 'prod' } as any)))).toEqual([
      {
        path: 'c',
        field: 'kubernetes',
        value: '"prod"',
        message: 'expected the kubernetes provider configuration, such as { configPath: "~/.kube/config", configContext: "prod" }',
      },
    ]);
  });

  test('an empty AfmDevice props object lists every required prop at once', () => {
    const { stack } = base();
    expect(
      issuesOf(() => refusal(() => new AfmDevice(stack, 'Bigip', {} as any))).map((i) => [i.field, i.value, i.message.slice(0, 12)]),
    ).toEqual([
      ['address', 'nothing', 'is required:'],
      ['tlsCaBundlePath', 'nothing', 'TLS verifica'],
      ['clusterName', 'nothing', 'is required:'],
      ['crdStack', 'nothing', 'is required:'],
    ]);
  });
});

describe('unknown and misplaced props are refused, one issue per key', () => {
  test('misspelled keys get a "did you mean"', () => {
    expect(issuesOf(() => device({ podCidr: ['10.244.0.0/16'], routeDomian: 2, logging: { syslogServer: ['192.0.2.5:514'] } }))).toEqual([
      {
        path: 'egress/Bigip' + (counter - 1),
        field: 'logging.syslogServer',
        value: '["192.0.2.5:514"]',
        message: 'is not a prop of EgressLoggingOptions, and an unknown prop is never ignored: did you mean "syslogServers"?',
      },
      {
        path: 'egress/Bigip' + (counter - 1),
        field: 'podCidr',
        value: '["10.244.0.0/16"]',
        message: 'is not a prop of an AfmDevice, and an unknown prop is never ignored: did you mean "podCidrs"?',
      },
      {
        path: 'egress/Bigip' + (counter - 1),
        field: 'routeDomian',
        value: '2',
        message: 'is not a prop of an AfmDevice, and an unknown prop is never ignored: did you mean "routeDomain"?',
      },
    ]);
    issueOn(() => controller({ credentialSecret: 'x' }), 'credentialSecret', /did you mean "credentialsSecret"\?$/);
    issueOn(() => sharedBigip({ dnsResolvr: '/Common/r' }), 'dnsResolvr', /did you mean "dnsResolver"\?$/);
    issueOn(
      () => device({ credentials: BigipCredentials.fromVariables({ passwordVariabel: 'pw' } as any) }),
      'credentials.passwordVariabel',
      /did you mean "passwordVariable"\?$/,
    );
  });

  test.each([
    ['credentialsSecret', 'bigip-login', /it is a prop of EgressController \(the in-cluster controller\); set it there$/],
    ['image', 'x:1', /it is a prop of EgressController/],
    ['syslogServers', ['192.0.2.5:514'], /it is an option of the AfmDevice's logging prop: logging: \{ syslogServers: \.\.\. \}$/],
    ['audit', true, /audit mode of the whole device is auditMode$/],
    ['destinations', [], /it is a prop of the egress rules .* create a rule with device: <this device>$/],
    ['kubernetes', {}, /it is a prop of EgressCrdStack; pass the EgressCrdStack as crdStack$/],
    ['trustedCertPath', '/ca.pem', /the CA bundle of the BIG-IP certificate is tlsCaBundlePath$/],
    ['name', 'dc1', /BIG-IP partition is its tenant/],
  ])('%s on an AfmDevice is misplaced: the hint says where it belongs', (key, value, hint) => {
    const issue = issueOn(() => device({ [key]: value }), key, hint);
    expect(issue.message).toMatch(/^is not a prop of an AfmDevice: /);
  });

  test.each([
    ['address', /the controller reaches the BIG-IP at bigipUrl/],
    ['credentials', /reads the BIG-IP credentials from the Secret named by credentialsSecret$/],
    ['tlsCaBundlePath', /reads the CA bundle from the ConfigMap named by caBundleConfigMap/],
    ['podCidrs', /it is a prop of AfmDevice; set it there$/],
  ])('%s on an EgressController is misplaced', (key, hint) => {
    issueOn(() => controller({ [key]: 'x' }), key, hint);
  });

  test('device props on a SharedBigip, and provider settings on an EgressCrdStack', () => {
    issueOn(
      () => sharedBigip({ clusterName: 'east' }),
      'clusterName',
      /each cluster has its own AfmDevice with sharedBigip: <this SharedBigip>; set clusterName there$/,
    );
    issueOn(() => sharedBigip({ routeDomain: 2 }), 'routeDomain', /it is a prop of AfmDevice; set it there$/);
    issueOn(
      () => refusal(() => new EgressCrdStack(Testing.app(), 'c', { configPath: '~/.kube/config' } as any)),
      'configPath',
      /give EgressCrdStack kubernetes: \{ configPath: \.\.\. \}$/,
    );
  });

  test('a device on a SharedBigip still refuses its own connection props and resolver', () => {
    const { stack, crds } = base();
    const bigip = refusal(() => new SharedBigip(stack, 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }));
    const issues = issuesOf(() =>
      refusal(
        () =>
          new AfmDevice(stack, 'East', {
            clusterName: 'east',
            crdStack: crds,
            sharedBigip: bigip,
            credentials: BigipCredentials.fromEnvironment(),
            dnsResolver: '/Common/r',
          }),
      ),
    );
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      ['credentials', '(credentials)', 'comes from the SharedBigip this device uses; set it there, not on the device'],
      ['dnsResolver', '"/Common/r"', 'the FQDN resolver is global to the BIG-IP; set it on the SharedBigip'],
    ]);
  });

  test('values of unknown keys that may be secrets are not repeated in the error', () => {
    const issues = issuesOf(() => device({ password: 'hunter2', username: 'admin' }));
    expect(issues.map((i) => [i.field, i.value])).toEqual([
      ['password', '(value not shown)'],
      ['username', '"admin"'],
    ]);
    expect(issues[0].message).toMatch(/credentials are only given by reference: set credentials: BigipCredentials.fromVariables\(\)/);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });
});

describe('credentials only by reference', () => {
  test('a literal credentials object is refused without echoing it', () => {
    for (const make of [
      () => device({ credentials: { username: 'admin', password: 'hunter2' } }),
      () => sharedBigip({ credentials: { username: 'admin', password: 'hunter2' } }),
    ]) {
      const issue = issueOn(
        make,
        'credentials',
        /^credentials are only given by reference, never literally .* use BigipCredentials.fromVariables\(\) \(sensitive Terraform variables\) or BigipCredentials.fromEnvironment\(\)$/,
      );
      expect(issue.value).toBe('(a literal object with username, password)');
      expect(JSON.stringify(issue)).not.toContain('hunter2');
    }
    expect(issueOn(() => device({ credentials: 'admin:hunter2' }), 'credentials', /only given by reference/).value).toBe(
      '(a literal string)',
    );
  });

  test.each([
    [{ usernameVariable: 'bigip user' }, 'credentials.usernameVariable', '"bigip user"', /must be a Terraform variable name/],
    [{ passwordVariable: 'count' }, 'credentials.passwordVariable', '"count"', /is reserved by Terraform/],
    [
      { usernameVariable: 'bigip', passwordVariable: 'bigip' },
      'credentials.passwordVariable',
      '"bigip"',
      /must differ from usernameVariable/,
    ],
    [{ passwordVariable: '${var.x}' }, 'credentials.passwordVariable', '"${var.x}"', /must be a Terraform variable name/],
    [
      null,
      'credentials',
      'null',
      /fromVariables\(\) takes \{ usernameVariable\?, passwordVariable\? \}: pass the variable names that way, or nothing/,
    ],
  ])('variable names %p are refused', (names, field, value, message) => {
    expect(issueOn(() => device({ credentials: BigipCredentials.fromVariables(names as any) }), field, message).value).toBe(value);
  });

  test('the names are checked before anything is created, and changing the caller\u2019s object later changes nothing', () => {
    const names = { usernameVariable: 'bigip_user', passwordVariable: 'bigip_password' };
    const credentials = BigipCredentials.fromVariables(names);
    names.passwordVariable = 'not valid';
    const { stack } = device({ credentials });
    expect(synthJson(stack).provider.bigip[0].password).toBe('${var.bigip_password}');
  });
});

describe('booleans are booleans', () => {
  const notBooleans = ['false', 'no', 'true', 1, 0, null];

  test.each(notBooleans)('insecureSkipTlsVerify: %p on an EgressController is refused, and verification stays on', (value) => {
    // Before, "false" (truthy) without a CA ConfigMap synthesized BIGIP_INSECURE_SKIP_TLS_VERIFY=true.
    const issue = issueOn(
      () => controller({ caBundleConfigMap: undefined, insecureSkipTlsVerify: value }),
      'insecureSkipTlsVerify',
      /^expected true or false/,
    );
    expect(issue.value).toBe(JSON.stringify(value));
    const { stack } = controller({ insecureSkipTlsVerify: false });
    const env = deploymentEnv(stack);
    expect(env.map((e) => e.name)).not.toContain('BIGIP_INSECURE_SKIP_TLS_VERIFY');
    expect(env).toContainEqual({ name: 'BIGIP_CA_CONFIGMAP', value: 'cdktf-ces-system/bigip-ca' });
  });

  test.each(notBooleans)('insecureSkipTlsVerify: %p on an AfmDevice or SharedBigip is refused', (value) => {
    for (const make of [
      () => device({ tlsCaBundlePath: undefined, insecureSkipTlsVerify: value }),
      () => sharedBigip({ tlsCaBundlePath: undefined, insecureSkipTlsVerify: value }),
    ]) {
      const issues = issuesOf(make);
      // Not an opt-out: the CA bundle is still required, and the value is named.
      expect(issues.map((i) => i.field)).toEqual(['tlsCaBundlePath', 'insecureSkipTlsVerify']);
      expect(issues[1].message).toMatch(
        typeof value === 'string'
          ? /^expected true or false, not a string: every non-empty string, "false" and "no" included, is true in JavaScript/
          : /^expected true or false/,
      );
    }
  });

  test('"false" string with a CA bundle was a contradiction before; now it is a type error and the provider keeps verification', () => {
    issueOn(() => device({ insecureSkipTlsVerify: 'false' }), 'insecureSkipTlsVerify', /^expected true or false, not a string/);
    const { stack, device: d } = device({ insecureSkipTlsVerify: false });
    expect(synthJson(stack).provider.bigip[0]).toMatchObject({ validate_certs_disable: false, trusted_cert_path: '/etc/ssl/bigip-ca.pem' });
    expect(d.node.metadata).toEqual([]);
  });

  test.each([
    ['createNamespace', (v: unknown) => controller({ createNamespace: v })],
    ['auditMode', (v: unknown) => device({ auditMode: v })],
    ['logging.localDatabase', (v: unknown) => device({ logging: { localDatabase: v } })],
    ['logging.logIpErrors', (v: unknown) => device({ logging: { logIpErrors: v } })],
    ['logging.logTcpErrors', (v: unknown) => device({ logging: { logTcpErrors: v } })],
    ['logging.logTcpEvents', (v: unknown) => device({ logging: { logTcpEvents: v } })],
    ['logging.logDefaultAction', (v: unknown) => device({ logging: { logDefaultAction: v } })],
  ])('%s refuses "false", "no", 1, 0 and null', (field, make) => {
    for (const value of notBooleans) {
      expect(issueOn(() => make(value), field, /^expected true or false/).value).toBe(JSON.stringify(value));
    }
  });

  test('the device logging takes options, not a boolean', () => {
    issueOn(() => device({ logging: true }), 'logging', /logging of rule matches is switched on per rule, with the rule's logging: true$/);
  });
});

describe('strings that reach cdk.tf.json', () => {
  test.each([
    ['/ca/${var.ca}.pem', /must not contain "\$\{" or "%\{": Terraform would evaluate it as an expression/],
    ['%{ if true }/ca.pem%{ endif }', /must not contain "\$\{" or "%\{"/],
    ['/ca.pem\n', /must not contain control characters or line breaks/],
    ['/ca\u0000.pem', /must not contain control characters/],
    ['', /must not be empty/],
    [42, /expected the path of a PEM file/],
  ])('tlsCaBundlePath %p is refused', (value, message) => {
    issueOn(() => device({ tlsCaBundlePath: value }), 'tlsCaBundlePath', message);
    issueOn(() => sharedBigip({ tlsCaBundlePath: value }), 'tlsCaBundlePath', message);
  });

  test('a cdktf token is not taken for a path it cannot check', () => {
    const { app, crds } = base();
    const other = new TerraformStack(app, 'x');
    const ca = new TerraformVariable(other, 'ca', { type: 'string' });
    issueOn(
      () => refusal(() => new AfmDevice(other, 'Bigip', { ...deviceProps(crds), tlsCaBundlePath: ca.stringValue } as any)),
      'tlsCaBundlePath',
      /a cdktf token.* cannot be checked at synth/,
    );
  });

  test.each([
    ['https://bigip.example.net', /without scheme, port or path/],
    ['bigip.example.net:443', /without scheme, port or path/],
    ['999.999.999.999', /not a valid IPv4 address/],
    ['10.0.0.01', /not a valid IPv4 address/],
    ['2001:db8::1', /write an IPv6 address in brackets, such as "\[2001:db8::1\]"/],
    ['[fe80::1%eth0]', /not an IPv6 address/],
    ['${var.bigip}', /without scheme, port or path/],
    ['bigip..example', /without scheme, port or path/],
    ['-bigip.example', /without scheme, port or path/],
    ['admin:pw@bigip', /without scheme, port or path/],
  ])('address %p is refused', (address, message) => {
    issueOn(() => device({ address }), 'address', message);
  });

  test.each(['bigip.example.net', 'BIGIP-1.Example.NET', '192.0.2.10', '[2001:db8::10]', 'bigip'])(
    'address %p is accepted and reaches the provider as given',
    (address) => {
      expect(synthJson(device({ address }).stack).provider.bigip[0].address).toBe(address);
    },
  );

  test.each([
    [99999, 'must be a whole number from 1 to 65535'],
    [0, 'must be a whole number from 1 to 65535'],
    [443.5, 'must be a whole number from 1 to 65535'],
    [NaN, 'expected a whole number from 1 to 65535'],
    [Infinity, 'expected a whole number from 1 to 65535'],
    ['443', 'expected a whole number from 1 to 65535'],
  ])('port %p is refused', (port, message) => {
    expect(issueOn(() => device({ port }), 'port', new RegExp(`^${message}$`)).value).toBe(
      typeof port === 'number' && !Number.isFinite(port) ? String(port) : JSON.stringify(port),
    );
  });

  test.each([
    ['routeDomain', -1],
    ['routeDomain', NaN],
    ['routeDomain', '2'],
  ])('%s %p is refused', (field, value) => {
    issueOn(() => device({ [field]: value }), field, /whole number from 0 to 65534/);
  });

  test.each([
    ['replicas', Infinity, /whole number from 1 to 5/],
    ['replicas', 1.5, /whole number from 1 to 5/],
    ['coalesceMs', NaN, /whole number of milliseconds from 0 to 60000/],
    ['maxPushesPerSecond', -Infinity, /whole number from 1 to 1000/],
    ['namespace', 'Kube_System', /must be a DNS label/],
    ['credentialsSecret', 'bigip/login/x', /must name an existing Secret/],
    ['caBundleConfigMap', '${var.cm}', /must name a ConfigMap/],
    ['usernameKey', 'user name', /must be a ConfigMap or Secret key/],
    ['caBundleKey', '..', /not "\." or "\.\."/],
    ['logLevel', 'verbose', /must be debug, info, warn or error/],
    ['cpuRequest', 50, /expected a Kubernetes quantity string/],
  ])('EgressController %s %p is refused', (field, value, message) => {
    const issue = issueOn(() => controller({ [field]: value }), field, message);
    expect(issue.value).toBe(typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value));
  });

  test.each([
    ['x:${var.tag}', /must not contain "\$\{"/],
    ['Registry.Example/Controller:1', /must be an image reference/],
    ['registry.example/cdktf ces:1', /must be an image reference/],
    ['node:20:alpine', /must be an image reference/],
    ['node@sha256:abc', /must be an image reference/],
    [':1', /must be an image reference/],
    ['node:20\n', /control characters/],
    ['', /must be an image reference/],
  ])('image and nodeImage %p are refused', (value, message) => {
    issueOn(() => controller({ image: value }), 'image', message);
    issueOn(() => controller({ image: undefined, nodeImage: value }), 'nodeImage', message);
  });

  test.each([
    'node:22-alpine',
    'registry.example.com:5000/platform/cdktf-ces-controller:1.2.0',
    `node:22-alpine@sha256:${'0123456789abcdef'.repeat(4)}`,
    `registry.example/ctl@sha256:${'a'.repeat(64)}`,
    'localhost/ctl',
    'a/b__c/d-e.f:Tag_1.2-rc',
  ])('image %p is accepted and reaches the Deployment as given', (image) => {
    const { stack } = controller({ image });
    const deployment = (Object.values(synthJson(stack).resource.kubernetes_manifest) as any[])
      .map((r) => r.manifest)
      .find((m) => m.kind === 'Deployment');
    expect(deployment.spec.template.spec.containers[0].image).toBe(image);
  });

  test.each([
    ['http://bigip.example.net', /^must use https \(it has "http:\/\/"\)/],
    ['https://bigip.example.net:99999', /^its port must be a whole number from 1 to 65535 \(it has "99999"\)$/],
    ['https://bigip.example.net:0', /^its port must be a whole number from 1 to 65535/],
    ['https://bigip.example.net:', /^its port must be a whole number/],
    ['https://${var.bigip}', /must not contain "\$\{"/],
    ['https://bigip.example.net/mgmt/tm', /without path, query or fragment$/],
    ['https://bigip.example.net?x=1', /without path, query or fragment$/],
    ['https://999.0.0.1', /^its host .*not a valid IPv4 address/],
    ['https://2001:db8::1', /^must be https:\/\/host\[:port\]/],
    ['bigip.example.net', /^must be https:\/\/host\[:port\]/],
  ])('bigipUrl %p is refused', (bigipUrl, message) => {
    expect(issueOn(() => controller({ bigipUrl }), 'bigipUrl', message).value).toBe(JSON.stringify(bigipUrl));
  });

  test('bigipUrl with user:password@ is refused without repeating the password', () => {
    const issue = issueOn(
      () => controller({ bigipUrl: 'https://admin:hunter2@bigip.example.net' }),
      'bigipUrl',
      /^must not carry credentials \("user:password@"\).*credentialsSecret$/,
    );
    expect(issue.value).toBe('"https://(credentials not shown)@bigip.example.net"');
    expect(JSON.stringify(issue)).not.toContain('hunter2');
  });

  test.each(['https://bigip.example.net', 'https://192.0.2.10:8443/', 'https://[2001:db8::10]:443'])(
    'bigipUrl %p is accepted',
    (bigipUrl) => {
      expect(deploymentEnv(controller({ bigipUrl }).stack)).toContainEqual({ name: 'BIGIP_URL', value: bigipUrl });
    },
  );

  test('the controller never creates a namespace every cluster has', () => {
    issueOn(
      () => controller({ namespace: 'kube-system' }),
      'createNamespace',
      /would create \(and on destroy delete\) namespace "kube-system", which every cluster has: set createNamespace: false/,
    );
    const { stack } = controller({ namespace: 'kube-system', createNamespace: false });
    expect((Object.values(synthJson(stack).resource.kubernetes_manifest) as any[]).map((r) => r.manifest.kind)).not.toContain('Namespace');
  });

  test('one Secret key cannot hold both username and password', () => {
    issueOn(() => controller({ usernameKey: 'login', passwordKey: 'login' }), 'passwordKey', /must differ from usernameKey/);
    issueOn(() => controller({ passwordKey: 'username' }), 'passwordKey', /must differ from usernameKey/);
  });
});

test('values that defeat JSON and String() are still named, not a TypeError', () => {
  const value = [1n, Object.create(null)];
  expect(issuesOf(() => device({ podCidr: value })).map((i) => [i.field, i.value, i.message])).toEqual([
    ['podCidr', '[object Array]', 'is not a prop of an AfmDevice, and an unknown prop is never ignored: did you mean "podCidrs"?'],
  ]);
});

describe('route domain by name (B6)', () => {
  test('a name needs its id, and route domain 0 has no other name', () => {
    issueOn(
      () => device({ routeDomainName: '/Common/rd_prod' }),
      'routeDomainName',
      /needs routeDomain, the id of that route domain .* tmsh list net route-domain \/Common\/rd_prod id$/,
    );
    issueOn(
      () => device({ routeDomain: 0, routeDomainName: '/Common/rd_prod' }),
      'routeDomainName',
      /route domain 0 is \/Common\/0 on every BIG-IP/,
    );
    issueOn(
      () => device({ routeDomain: 2, routeDomainName: 'rd_prod' }),
      'routeDomainName',
      /must be the BIG-IP path of the route domain, such as "\/Common\/rd_prod"/,
    );
    expect(() => device({ routeDomain: 2, routeDomainName: '/Common/rd_prod' })).not.toThrow();
  });
});

describe('address families of pods, SNAT pool and gateways (W7)', () => {
  test('a dual-stack cluster needs a SNAT address and a gateway of each family', () => {
    const dual = { podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] };
    expect(
      issuesOf(() => device({ ...dual, snat: EgressSnat.pool(['192.0.2.200']), gateways: ['192.0.2.1'] })).map(
        (i) => `${i.field}: ${i.message} (got ${i.value})`,
      ),
    ).toEqual([
      'gateways: has no IPv6 address, but podCidrs has IPv6 pods (fd00:10:244::/56): their egress would have no next hop; add an IPv6 gateway, or leave gateways out to forward by the routing table (got ["192.0.2.1"])',
      'snat: has no IPv6 address, but podCidrs has IPv6 pods (fd00:10:244::/56): their egress would have no translation address; add an IPv6 address to EgressSnat.pool([...]), or use EgressSnat.automap() (got ["192.0.2.200"])',
    ]);
    issueOn(() => device({ podCidrs: ['fd00:10:244::/56'], snat: EgressSnat.pool(['192.0.2.200']) }), 'snat', /has no IPv6 address/);
    expect(() =>
      device({ ...dual, snat: EgressSnat.pool(['192.0.2.200', '2001:db8::200']), gateways: ['192.0.2.1', '2001:db8::1'] }),
    ).not.toThrow();
    // Automap and the routing table serve every family; without podCidrs the pods' families are unknown.
    expect(() => device({ ...dual, snat: EgressSnat.automap() })).not.toThrow();
    expect(() => device({ snat: EgressSnat.pool(['192.0.2.200']), gateways: ['192.0.2.1'] })).not.toThrow();
  });
});

describe('no input silently widens egress', () => {
  test('a missing crdStack says what to pass', () => {
    issueOn(
      () => device({ crdStack: undefined }),
      'crdStack',
      /^is required: pass the EgressCrdStack of this app \(new EgressCrdStack\(app, "crds"\)\), the stack that holds the CRDs of the rule kinds$/,
    );
  });

  test('an AfmDevice or SharedBigip created outside a stack is a named issue, not cdktf\u2019s "No stack could be identified"', () => {
    const { app, crds } = base();
    expect(
      issuesOf(() => refusal(() => new AfmDevice(app, 'Bigip', deviceProps(crds) as any))).map((i) => [i.path, i.field, i.message]),
    ).toEqual([
      ['Bigip', 'scope', 'the scope of an AfmDevice must be a construct in a TerraformStack, such as the stack of its AfmDevice'],
    ]);
    expect(
      issuesOf(() => refusal(() => new SharedBigip(app, 'Dc1', { address: 'bigip.example.net', tlsCaBundlePath: '/ca.pem' }))).map((i) => [
        i.path,
        i.field,
        i.message,
      ]),
    ).toEqual([['Dc1', 'scope', 'the scope of a SharedBigip must be a construct in a TerraformStack, such as the stack of its AfmDevice']]);
  });

  test('an empty podCidrs or vlans list is refused: it would render as any source or every VLAN', () => {
    expect(
      issueOn(
        () => device({ podCidrs: [] }),
        'podCidrs',
        /^an empty list is never read as "any source": list the pod CIDRs, or leave podCidrs out for the default/,
      ).value,
    ).toBe('[]');
    expect(
      issueOn(
        () => device({ vlans: [] }),
        'vlans',
        /^an empty list is never read as "every VLAN": list the VLANs, or leave vlans out for the default/,
      ).value,
    ).toBe('[]');
    expect(device({ podCidrs: ['10.244.0.0/16'], vlans: ['/Common/k8s'] }).device._deviceModel).toMatchObject({
      podCidrs: [{ text: '10.244.0.0/16' }],
      vlans: ['/Common/k8s'],
    });
  });

  test('an object that only looks like an EgressSnat is refused', () => {
    const fake = Object.create(EgressSnat.prototype);
    issueOn(() => device({ snat: fake }), 'snat', /^expected EgressSnat.automap\(\), pool\(\[...\]\) or none\(\)$/);
    const forged = Object.assign(Object.create(EgressSnat.prototype), { mode: 'NONE', addresses: [] });
    issueOn(() => device({ snat: forged }), 'snat', /^expected EgressSnat/);
    expect(device({ snat: EgressSnat.none() }).device._deviceModel.snat).toBe('NONE');
  });

  test.each([
    ['a Date', new Date(0), /not a Date object/],
    ['a Map', new Map([['localDatabase', false]]), /not a Map object/],
    ['a boxed false', Object(false), /not a Boolean object/],
    ['an array', [], /not an array/],
  ])('logging as %s is refused, not read as the default options', (_, logging, message) => {
    issueOn(() => device({ logging }), 'logging', message);
  });

  test('options inherited from Object.prototype are never read: no audit mode, no open default, TLS verification stays on', () => {
    const polluted = {
      auditMode: true,
      defaultAction: 'ALLOW',
      insecureSkipTlsVerify: true,
      snat: EgressSnat.none(),
      localDatabase: false,
      syslogTransport: 'udp',
    };
    for (const [key, value] of Object.entries(polluted))
      Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true, enumerable: false });
    try {
      const model = device({ logging: { syslogServers: ['192.0.2.50:514'] } }).device._deviceModel;
      expect(model).toMatchObject({
        audit: false,
        defaultAction: 'DENY',
        snat: 'AUTOMAP',
        logging: { transport: 'tcp', localDatabase: false },
      });
      issueOn(() => device({ tlsCaBundlePath: undefined }), 'tlsCaBundlePath', /^TLS verification is on by default/);
      const { stack } = base();
      expect(issuesOf(() => refusal(() => new SharedBigip(stack, 'Dc1', { address: 'bigip.example.net' }))).map((i) => i.field)).toEqual([
        'tlsCaBundlePath',
      ]);
    } finally {
      for (const key of Object.keys(polluted)) delete (Object.prototype as Record<string, unknown>)[key];
    }
  });
});

describe('AS3 reserved names', () => {
  // A tenant is a property of the AS3 declaration and an application one of its tenant: a
  // tenant named `id` or an application named `remark` would replace that property.
  test.each(['id', 'remark', 'class', 'controls'])('tenant %p is refused', (tenant) => {
    const issue = issueOn(() => device({ tenant }), 'tenant', /is reserved by AS3 .*choose another name/);
    expect(issue.value).toBe(JSON.stringify(tenant));
  });
  test.each(['remark', 'label', 'enable', 'defaultRouteDomain'])('application %p is refused', (application) => {
    const issue = issueOn(() => device({ application }), 'application', /is reserved by AS3 .*choose another name, such as "egress"/);
    expect(issue.value).toBe(JSON.stringify(application));
  });
});
