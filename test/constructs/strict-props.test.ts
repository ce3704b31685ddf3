import { refusal } from './synthesized';
import fc from 'fast-check';
import { Construct } from 'constructs';
import { App, TerraformStack, Testing } from 'cdktf';
import {
  AfmDevice,
  BandwidthUnit,
  BigipCredentials,
  ClusterEgressRule,
  ClusterEgressRuleProps,
  EgressController,
  EgressCrdStack,
  EgressAction,
  EgressDestination,
  EgressPort,
  ExternalService,
  LabelSelectorOperator,
  NamespaceEgressRule,
  ServiceEgressRule,
  Weekday,
} from '../../lib';
import { deviceStack, synthJson } from '../support/app';
import { issuesOf } from '../support/issues';

/** Casts through unknown: these are the call shapes plain JavaScript can produce. */
const js = (v: unknown) => v as any;

const RULE_CLASSES = { cluster: ClusterEgressRule, namespace: NamespaceEgressRule, service: ServiceEgressRule } as const;
type Level = keyof typeof RULE_CLASSES;

function newRule(level: Level, scope: Construct, id: string, props: unknown) {
  const RuleClass = RULE_CLASSES[level] as unknown as new (scope: Construct, id: string, props: unknown) => Construct;
  return refusal(() => new RuleClass(scope, id, props));
}

describe('rule props from any JavaScript call shape', () => {
  test.each([
    ['cluster', undefined, 'nothing', 'is required: pass ClusterEgressRuleProps ({ device, action, destinations, … })'],
    ['cluster', null, 'null', 'expected ClusterEgressRuleProps ({ device, action, destinations, … })'],
    ['namespace', [], '[]', 'expected NamespaceEgressRuleProps ({ device, action, destinations, …, namespace }), not an array'],
    ['service', 'props', '"props"', 'expected ServiceEgressRuleProps ({ device, action, destinations, …, namespace, service })'],
  ] as const)('a %s rule given the props %p fails with a named error', (level, props, value, message) => {
    const { stack } = deviceStack();
    expect(issuesOf(() => newRule(level, stack, 'R', props))).toEqual([{ path: 'egress/R', field: '(props)', value, message }]);
  });

  test('props given as a class instance with data fields only are read like an object literal', () => {
    const { stack, device } = deviceStack();
    class Props implements ClusterEgressRuleProps {
      public readonly device = device;
      public readonly action = EgressAction.ALLOW;
      public readonly destinations = [EgressDestination.cidr('203.0.113.0/24')];
      public readonly ports = [EgressPort.HTTPS];
      public readonly audit = true;
    }
    const rule = new ClusterEgressRule(stack, 'Instance', new Props());
    const literal = new ClusterEgressRule(stack, 'Literal', {
      device,
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
      ports: [EgressPort.HTTPS],
      audit: true,
    });
    expect(rule._model).toEqual({ ...literal._model, name: 'instance', path: 'egress/Instance' });
  });

  test('props given as a class instance with anything on its prototype are refused, naming it', () => {
    const { stack, device } = deviceStack();
    class Props {
      public readonly device = device;
      public readonly action = EgressAction.ALLOW;
      public readonly destinations = [EgressDestination.anyIpv4()];
      // On the prototype, this getter is no own prop: were it dropped, the rule would apply to every pod, not app=web.
      public get podSelector() {
        return { matchLabels: { app: 'web' } };
      }
    }
    expect(issuesOf(() => newRule('cluster', stack, 'R', new Props()))).toEqual([
      {
        path: 'egress/R',
        field: '(props)',
        value: expect.any(String),
        message:
          'expected ClusterEgressRuleProps ({ device, action, destinations, … }) written as an object literal, not a Props object: Props has podSelector on its prototype, and props are read only from the object itself; pass an object literal',
      },
    ]);
  });

  test('a missing device and a misspelled prop are reported together', () => {
    const { stack } = deviceStack();
    expect(
      issuesOf(() =>
        newRule('namespace', stack, 'R', {
          namespace: 'web',
          action: EgressAction.ALLOW,
          destinations: [EgressDestination.anyIpv4()],
          podSelecter: {},
        }),
      ),
    ).toEqual([
      {
        path: 'egress/R',
        field: 'device',
        value: 'nothing',
        message: 'must be an AfmDevice (created with new AfmDevice(...)) in the stack of the rule',
      },
      {
        path: 'egress/R',
        field: 'podSelecter',
        value: '{}',
        message: 'is not a prop of a NamespaceEgressRule, and an unknown prop is never ignored: did you mean "podSelector"?',
      },
    ]);
  });

  test('a destination that refers to something other than an ExternalService construct is refused, once', () => {
    const { stack, device } = deviceStack();
    const message = 'must refer to an ExternalService construct (created with new ExternalService(...))';
    expect(
      issuesOf(() =>
        newRule('cluster', stack, 'R', {
          device,
          action: EgressAction.ALLOW,
          destinations: [
            EgressDestination.externalService({ serviceName: 'bank' }),
            EgressDestination.externalService(js({})),
            EgressDestination.externalService(js(undefined)),
          ],
        }),
      ),
    ).toEqual([
      { path: 'egress/R', field: 'destinations[0]', value: '"externalService:bank"', message },
      { path: 'egress/R', field: 'destinations[1]', value: '"externalService:{}"', message },
      {
        path: 'egress/R',
        field: 'destinations[2]',
        value: 'nothing',
        message: 'EgressDestination.externalService() needs an ExternalService construct (created with new ExternalService(...))',
      },
    ]);
  });

  test.each([
    [
      'cluster',
      { namespace: 'payments' },
      'namespace',
      'a cluster rule applies to every namespace; use a NamespaceEgressRule for one namespace, or namespaceSelector to narrow this rule',
    ],
    [
      'namespace',
      { namespace: 'payments', service: 'checkout' },
      'service',
      'a namespace rule applies to its namespace; use a ServiceEgressRule for the pods of one Service, or podSelector to narrow this rule',
    ],
    [
      'service',
      { namespace: 'payments', service: 'checkout', podSelector: {} },
      'podSelector',
      "a service rule's pods are those its Service selects; use a NamespaceEgressRule with podSelector instead",
    ],
  ] as const)('a %s rule with a prop of another level is refused, not widened', (level, extra, field, fix) => {
    const { stack, device } = deviceStack();
    const issues = issuesOf(() =>
      newRule(level, stack, 'R', { device, action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()], ...extra }),
    );
    expect(issues).toEqual([
      {
        path: 'egress/R',
        field,
        value: JSON.stringify((extra as Record<string, unknown>)[field]),
        message: `is not a prop of a ${level[0].toUpperCase()}${level.slice(1)}EgressRule: ${fix}`,
      },
    ]);
  });

  test('explicit undefined for an optional prop is the default, null is refused', () => {
    const { stack, device } = deviceStack();
    const rule = new NamespaceEgressRule(stack, 'Web', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.anyIpv4()],
      name: undefined,
      ports: undefined,
    });
    expect(rule.ruleName).toBe('web');
    expect(rule._model.ports).toEqual([]);
    expect(
      issuesOf(() =>
        newRule('namespace', stack, 'Api', {
          device,
          namespace: 'web',
          action: EgressAction.ALLOW,
          destinations: [EgressDestination.anyIpv4()],
          name: null,
          ports: null,
        }),
      ),
    ).toEqual([
      { path: 'egress/Api', field: 'name', value: 'null', message: 'expected the rule name: a DNS label string such as "allow-dns"' },
      { path: 'egress/Api', field: 'ports', value: 'null', message: 'expected an array of EgressPort, such as [EgressPort.HTTPS]' },
    ]);
  });

  test('a port made with a missing number names the rule and the explicit form', () => {
    const { stack, device } = deviceStack();
    expect(
      issuesOf(() =>
        refusal(
          () =>
            new ClusterEgressRule(stack, 'Web', {
              device,
              action: EgressAction.ALLOW,
              destinations: [EgressDestination.anyIpv4()],
              ports: [EgressPort.HTTPS, EgressPort.tcp(js(undefined))],
            }),
        ),
      ),
    ).toEqual([
      {
        path: 'egress/Web',
        field: 'ports[1]',
        value: '"EgressPort.tcp(undefined)"',
        message:
          'the port number is missing, and a missing port never means every port: give the port (the first and last port of a range), or for every tcp port write EgressPort.allTcp()',
      },
    ]);
  });
});

describe('names from construct ids', () => {
  test.each([
    ['AllowDns', 'allow-dns'],
    ['allowDNSServers', 'allow-dns-servers'],
    ['Allow DNS', 'allow-dns'],
    ['web_api', 'web-api'],
  ])('the id %p gives the name %p', (id, name) => {
    const { stack, device } = deviceStack();
    expect(
      new ClusterEgressRule(stack, id, { device, action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()] }).ruleName,
    ).toBe(name);
  });

  test.each([
    [
      'allow.dns',
      '"allow.dns"',
      'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
      'set name, such as name: "allow-dns"',
    ],
    [
      'Allow_DNS!',
      '"allow-dns!"',
      'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
      'set name, such as name: "allow-dns"',
    ],
    [
      'Übersee',
      '"übersee"',
      'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
      'set name, such as name: "bersee"',
    ],
    [
      '!!!',
      '"!!!"',
      'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
      'set name to a DNS label',
    ],
    ['a'.repeat(64), `"${'a'.repeat(64)}"`, 'must be at most 63 characters (it has 64)', `set name, such as name: "${'a'.repeat(63)}"`],
  ])('the id %p gives no name: the error says to set name', (id, value, problem, fix) => {
    const { stack, device } = deviceStack();
    const issues = issuesOf(() =>
      refusal(() => new ClusterEgressRule(stack, id, { device, action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()] })),
    );
    expect(issues).toEqual([
      {
        path: `egress/${id}`,
        field: 'name',
        value,
        message: `is not set, and the construct id ${JSON.stringify(id)} gives ${value}, which cannot be a name: it ${problem}; ${fix}`,
      },
    ]);
  });

  test('an explicit name makes any id work, and the id problem is reported with the others', () => {
    const { stack, device } = deviceStack();
    expect(
      new ClusterEgressRule(stack, 'allow.dns', {
        device,
        name: 'allow-dns',
        action: EgressAction.ALLOW,
        destinations: [EgressDestination.anyIpv4()],
      }).ruleName,
    ).toBe('allow-dns');
    expect(
      issuesOf(() => newRule('cluster', stack, 'deny.all', { device, action: 'DROP', destinations: [EgressDestination.anyIpv4()] })).map(
        (i) => i.field,
      ),
    ).toEqual(['action', 'name']);
  });

  test('an ExternalService id gives its name the same way', () => {
    const { stack, device } = deviceStack();
    expect(
      new ExternalService(stack, 'BankSftp', { device, destinations: [EgressDestination.fqdn('sftp.bank.example')] }).serviceName,
    ).toBe('bank-sftp');
    expect(
      issuesOf(() =>
        refusal(() => new ExternalService(stack, 'bank.sftp', { device, destinations: [EgressDestination.fqdn('sftp.bank.example')] })),
      ),
    ).toEqual([
      {
        path: 'egress/bank.sftp',
        field: 'name',
        value: '"bank.sftp"',
        message:
          'is not set, and the construct id "bank.sftp" gives "bank.sftp", which cannot be a name: it must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit; set name, such as name: "bank-sftp"',
      },
    ]);
  });
});

describe('scopes and ids from any JavaScript call shape', () => {
  const rule = (scope: unknown, id: unknown, device: AfmDevice) => () =>
    new ClusterEgressRule(js(scope), js(id), { device, action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()] });
  const service = (scope: unknown, id: unknown, device: AfmDevice) => () =>
    new ExternalService(js(scope), js(id), { device, destinations: [EgressDestination.fqdn('sftp.bank.example')] });

  test.each([
    [undefined, 'nothing'],
    [5, '5'],
    ['', '""'],
  ])('the id %p is a named error', (id, value) => {
    const { stack, device } = deviceStack();
    expect(issuesOf(rule(stack, id, device))).toEqual([
      {
        path: 'egress',
        field: 'id',
        value,
        message: 'the construct id of a ClusterEgressRule must be a non-empty string, such as "AllowDns"',
      },
    ]);
    expect(issuesOf(service(stack, id, device))).toEqual([
      {
        path: 'egress',
        field: 'id',
        value,
        message: 'the construct id of an ExternalService must be a non-empty string, such as "AllowDns"',
      },
    ]);
  });

  test('a scope that is not a construct in a stack is a named error', () => {
    const { app, device } = deviceStack();
    const message = 'the scope of a ClusterEgressRule must be a construct in a TerraformStack, such as the stack of its AfmDevice';
    expect(issuesOf(rule(null, 'R', device))).toEqual([{ path: 'R', field: 'scope', value: 'null', message }]);
    expect(issuesOf(rule({}, 'R', device))).toEqual([{ path: 'R', field: 'scope', value: '{}', message }]);
    // The app has no path: the issue names the construct by its id.
    expect(issuesOf(rule(app, 'R', device))).toEqual([{ path: 'R', field: 'scope', value: 'the construct at "(app)"', message }]);
  });
});

describe('ExternalService props', () => {
  test.each([
    [undefined, '(props)', 'nothing', 'is required: pass ExternalServiceProps ({ device, destinations, name?, description? })'],
    [null, '(props)', 'null', 'expected ExternalServiceProps ({ device, destinations, name?, description? })'],
  ])('new ExternalService(scope, id, %p) is a named error', (props, field, value, message) => {
    const { stack } = deviceStack();
    expect(issuesOf(() => refusal(() => new ExternalService(stack, 'Bank', js(props))))).toEqual([
      { path: 'egress/Bank', field, value, message },
    ]);
  });

  test('unknown and misplaced props are refused', () => {
    const { stack, device } = deviceStack();
    const issues = issuesOf(() =>
      refusal(
        () =>
          new ExternalService(
            stack,
            'Bank',
            js({ device, destinations: [EgressDestination.fqdn('sftp.bank.example')], ports: [EgressPort.SSH], descripton: 'x' }),
          ),
      ),
    );
    expect(issues).toEqual([
      {
        path: 'egress/Bank',
        field: 'ports',
        value: '["tcp/22"]',
        message: 'is not a prop of an ExternalService: an external service is a set of destinations; put ports on the rules that use it',
      },
      {
        path: 'egress/Bank',
        field: 'descripton',
        value: '"x"',
        message: 'is not a prop of an ExternalService, and an unknown prop is never ignored: did you mean "description"?',
      },
    ]);
  });

  test('a device that is not an AfmDevice and bad destinations are reported together', () => {
    const { stack } = deviceStack();
    expect(issuesOf(() => refusal(() => new ExternalService(stack, 'Bank', js({ device: 'bigip', destinations: [null] }))))).toEqual([
      { path: 'egress/Bank', field: 'device', value: '"bigip"', message: 'must be an AfmDevice (created with new AfmDevice(...))' },
      {
        path: 'egress/Bank',
        field: 'destinations[0]',
        value: 'null',
        message: 'expected an EgressDestination made with its static factories, such as EgressDestination.cidr("10.0.0.0/8")',
      },
    ]);
  });
});

describe('constructs outside a stack', () => {
  test.each([
    [
      'ExternalService',
      (app: App, device: AfmDevice) =>
        new ExternalService(app, 'Bank', { device, destinations: [EgressDestination.address('198.51.100.7')] }),
      'Bank',
      'an ExternalService',
    ],
    [
      'EgressController',
      (app: App, device: AfmDevice) =>
        refusal(
          () =>
            new EgressController(app, 'Controller', {
              device,
              credentialsSecret: 's',
              caBundleConfigMap: 'ca',
              image: 'registry.example/c:1',
            }),
        ),
      'Controller',
      'an EgressController',
    ],
  ] as const)('%s: created in the app, a named error with its id as path', (_, make, path, kind) => {
    const { app, device } = deviceStack();
    expect(issuesOf(() => make(app, device))).toEqual([
      {
        path,
        field: 'scope',
        value: 'the construct at "(app)"',
        message: `the scope of ${kind} must be a construct in a TerraformStack, such as the stack of its AfmDevice`,
      },
    ]);
  });
});

describe('a polluted Object.prototype', () => {
  const polluteWith = (key: string, value: unknown) =>
    Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true, enumerable: false });
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>).podSelector;
  });

  test('cdktf would drop the pod selector from the custom resource, so a rule is refused', () => {
    const { stack, device } = deviceStack();
    polluteWith('podSelector', { matchLabels: { other: 'x' } });
    const props = {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      podSelector: { matchLabels: { app: 'web' } },
      destinations: [EgressDestination.anyIpv4()],
    };
    expect(issuesOf(() => refusal(() => new NamespaceEgressRule(stack, 'Web', props)))).toEqual([
      expect.objectContaining({
        path: 'egress/Web',
        field: 'Object.prototype.podSelector',
        value: '{"matchLabels":{"other":"x"}}',
        message: expect.stringMatching(/delete Object.prototype.podSelector\)$/),
      }),
    ]);
    expect(
      issuesOf(() =>
        refusal(() => new ExternalService(stack, 'Bank', { device, destinations: [EgressDestination.address('198.51.100.7')] })),
      ),
    ).toEqual([expect.objectContaining({ path: 'egress/Bank', field: 'Object.prototype.podSelector' })]);
  });

  test('an inherited insecureSkipTlsVerify does not switch off TLS verification of the controller', () => {
    const { stack, device } = deviceStack();
    polluteWith('insecureSkipTlsVerify', true);
    try {
      expect(
        issuesOf(() =>
          refusal(() => new EgressController(stack, 'NoCa', { device, credentialsSecret: 's', image: 'registry.example/c:1' })),
        ),
      ).toEqual([expect.objectContaining({ path: 'egress/NoCa', field: 'caBundleConfigMap', value: 'nothing' })]);
      refusal(
        () =>
          new EgressController(stack, 'Controller', {
            device,
            credentialsSecret: 's',
            caBundleConfigMap: 'ca',
            image: 'registry.example/c:1',
          }),
      );
    } finally {
      delete (Object.prototype as Record<string, unknown>).insecureSkipTlsVerify;
    }
    const deployment = Object.values(synthJson(stack).resource.kubernetes_manifest as Record<string, { manifest: any }>).find(
      (r) => r.manifest.kind === 'Deployment',
    );
    const env = deployment?.manifest.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env.map((e) => e.name)).toContain('BIGIP_URL');
    expect(env.map((e) => e.name)).not.toContain('BIGIP_INSECURE_SKIP_TLS_VERIFY');
  });

  test('pollution after the rules were made fails synth, naming each rule and the CRD stack', () => {
    const { app, stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'Web', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      podSelector: { matchLabels: { app: 'web' } },
      destinations: [EgressDestination.anyIpv4()],
    });
    polluteWith('podSelector', { matchLabels: { other: 'x' } });
    // The CRD stack (every app has one) is synthesized first; each rule also checks its own stack.
    expect(() => app.synth()).toThrow(/\[crds\] Object\.prototype\.podSelector: is set by other code in this program/);
    expect(() => Testing.synth(stack, true)).toThrow(
      /\[egress\/Web\] Object\.prototype\.podSelector: is set by other code in this program/,
    );
  });
});

describe('EgressController props together', () => {
  const controller = (stack: TerraformStack, id: string, props: Record<string, unknown>) =>
    refusal(
      () =>
        new EgressController(
          stack,
          id,
          js({ credentialsSecret: 'bigip-login', caBundleConfigMap: 'bigip-ca', image: 'registry.example/cdktf-ces:1', ...props }),
        ),
    );

  test.each([
    [
      { memoryRequest: '1Gi' },
      'memoryRequest',
      '"1Gi"',
      'the memory request 1Gi is above the memory limit 256Mi (the default), and Kubernetes refuses such a Deployment: lower memoryRequest or raise memoryLimit',
    ],
    [
      { memoryLimit: '100m' },
      'memoryLimit',
      '"100m"',
      'the memory request 128Mi is above the memory limit 100m, and Kubernetes refuses such a Deployment: lower memoryRequest or raise memoryLimit',
    ],
    [
      { memoryRequest: '300M', memoryLimit: '256Mi' },
      'memoryRequest',
      '"300M"',
      'the memory request 300M is above the memory limit 256Mi, and Kubernetes refuses such a Deployment: lower memoryRequest or raise memoryLimit',
    ],
  ])('a memory request above the limit is refused: %p', (props, field, value, message) => {
    const { stack, device } = deviceStack();
    expect(issuesOf(() => controller(stack, 'Controller', { device, ...props }))).toEqual([
      { path: 'egress/Controller', field, value, message },
    ]);
  });

  test.each([
    { memoryRequest: '1Gi', memoryLimit: '1Gi' },
    { memoryRequest: '256M', memoryLimit: '256Mi' },
    { memoryRequest: '512Mi', memoryLimit: '1Gi' },
  ])('a memory request up to the limit is taken: %p', (props) => {
    const { stack, device } = deviceStack();
    expect(() => controller(stack, 'Controller', { device, ...props })).not.toThrow();
  });

  test('two controllers of one stack cannot both create their namespace', () => {
    const { app, crds, stack, device } = deviceStack();
    const other = refusal(
      () =>
        new AfmDevice(stack, 'Other', { clusterName: 'other', address: 'bigip2.example.net', tlsCaBundlePath: '/ca.pem', crdStack: crds }),
    );
    controller(stack, 'C1', { device });
    expect(issuesOf(() => controller(stack, 'C2', { device: other }))).toEqual([
      {
        path: 'egress/C2',
        field: 'namespace',
        value: '"cdktf-ces-system"',
        message:
          'is created by controller egress/C1 of this stack too, and one stack cannot declare a Namespace twice: set createNamespace: false on egress/C2 (it then uses the namespace egress/C1 creates), or give each controller a namespace of its own',
      },
    ]);
    // The refused controller is reported at synth; without it the app synthesizes.
    expect(() => app.synth()).toThrow(/\[egress\/C2\] namespace: is created by controller egress\/C1/);
    stack.node.tryRemoveChild('C2');
    controller(stack, 'C3', { device: other, createNamespace: false });
    app.synth();
    const namespaces = Object.values(
      synthJson(stack).resource.kubernetes_manifest as Record<string, { manifest: { kind: string } }>,
    ).filter((r) => r.manifest.kind === 'Namespace');
    expect(namespaces).toHaveLength(1);
  });
});

describe('EgressCrdStack props', () => {
  test.each([
    [
      'a Date',
      new Date(0),
      'expected the kubernetes provider configuration, such as { configPath: "~/.kube/config", configContext: "prod" } written as an object literal, not a Date object',
    ],
    [
      'a Map',
      new Map([['configPath', 'x']]),
      'expected the kubernetes provider configuration, such as { configPath: "~/.kube/config", configContext: "prod" } written as an object literal, not a Map object',
    ],
    [
      'a boxed string',
      Object('x'),
      'expected the kubernetes provider configuration, such as { configPath: "~/.kube/config", configContext: "prod" } written as an object literal, not a String object',
    ],
  ])('kubernetes as %s is refused', (_, kubernetes, message) => {
    expect(issuesOf(() => refusal(() => new EgressCrdStack(Testing.app(), 'crds', js({ kubernetes }))))).toEqual([
      expect.objectContaining({ path: 'crds', field: 'kubernetes', message }),
    ]);
  });

  test('a field the provider does not have is refused, its value not shown', () => {
    expect(
      issuesOf(() =>
        refusal(() => new EgressCrdStack(Testing.app(), 'crds', js({ kubernetes: { configPth: '~/.kube/prod', tokn: 'secret-value' } }))),
      ),
    ).toEqual([
      {
        path: 'crds',
        field: 'kubernetes.configPth',
        value: '(value not shown)',
        message: 'is not a prop of the kubernetes provider configuration, and an unknown prop is never ignored: did you mean "configPath"?',
      },
      {
        path: 'crds',
        field: 'kubernetes.tokn',
        value: '(value not shown)',
        message: 'is not a prop of the kubernetes provider configuration, and an unknown prop is never ignored: did you mean "token"?',
      },
    ]);
  });

  test('the provider configuration reaches the provider', () => {
    class Kubernetes {
      public readonly configPath = '~/.kube/config';
      public readonly configContext = 'prod';
    }
    for (const kubernetes of [{ configPath: '~/.kube/config', configContext: 'prod' }, new Kubernetes()]) {
      const app = Testing.app();
      const crds = refusal(() => new EgressCrdStack(app, 'crds', { kubernetes }));
      expect(synthJson(crds).provider.kubernetes).toEqual([{ config_path: '~/.kube/config', config_context: 'prod' }]);
    }
  });
});

describe('BIG-IP credentials say what to do', () => {
  test.each([
    [
      null,
      '',
      'null',
      'BigipCredentials.fromVariables() takes { usernameVariable?, passwordVariable? }: pass the variable names that way, or nothing for the default names',
    ],
    [
      { usernameVariable: 'bigip', passwordVariable: 'bigip' },
      '.passwordVariable',
      '"bigip"',
      'must differ from usernameVariable, since one variable cannot hold both: give the password a variable of its own',
    ],
  ])('fromVariables(%p)', (names, field, value, message) => {
    expect(issuesOf(() => refusal(() => deviceStack({ credentials: BigipCredentials.fromVariables(js(names)) }).device))).toEqual([
      { path: 'egress/Bigip', field: `credentials${field}`, value, message },
    ]);
  });
});

describe('ExternalService props given as a class instance', () => {
  test('are read from their own fields', () => {
    const { stack, device } = deviceStack();
    class Bank {
      public readonly device = device;
      public readonly destinations = [EgressDestination.address('198.51.100.7')];
    }
    expect(new ExternalService(stack, 'Bank', new Bank()).serviceName).toBe('bank');
  });
});

describe('a destination or port not made by its factories', () => {
  test('is refused on its index by a rule construct, never a TypeError', () => {
    const { stack, device } = deviceStack();
    const props = {
      device,
      action: EgressAction.ALLOW,
      destinations: [Object.create(EgressDestination.prototype)],
      ports: [Object.create(EgressPort.prototype)],
    };
    expect(issuesOf(() => refusal(() => new ClusterEgressRule(stack, 'R', props))).map((i) => [i.field, i.value])).toEqual([
      ['destinations[0]', '"an EgressDestination not made by its static factories"'],
      ['ports[0]', '"an EgressPort not made by its static factories"'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: valid props build a rule; valid props plus one unknown or misplaced key never do.

const LABEL = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/);
const LABEL_KEY = fc.oneof(LABEL, fc.constantFrom('app.kubernetes.io/name', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'));
const SAFE_TEXT = fc.stringMatching(/^[A-Za-z0-9 _.,:;@#()/+=-]{1,16}$/);

const selector = fc.record(
  {
    matchLabels: fc.dictionary(LABEL_KEY, fc.oneof(LABEL, fc.constant('')), { maxKeys: 3 }),
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({
          key: LABEL_KEY,
          operator: fc.constantFrom(LabelSelectorOperator.IN, LabelSelectorOperator.NOT_IN),
          values: fc.array(LABEL, { minLength: 1, maxLength: 3 }),
        }),
        fc.record({ key: LABEL_KEY, operator: fc.constantFrom(LabelSelectorOperator.EXISTS, LabelSelectorOperator.DOES_NOT_EXIST) }),
      ),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: [] },
);

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const destination = fc.oneof(
  ipv4.map((a) => EgressDestination.address(a)),
  fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
    const value = a.split('.').reduce((v, b) => v * 256 + Number(b), 0);
    const network = len === 0 ? 0 : Math.floor(value / 2 ** (32 - len)) * 2 ** (32 - len);
    return EgressDestination.cidr(`${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join('.')}/${len}`);
  }),
  fc.tuple(fc.nat(255), fc.nat(255)).map(([x, y]) => EgressDestination.range(`10.0.${Math.min(x, y)}.1`, `10.0.${Math.max(x, y)}.9`)),
  fc.array(LABEL, { minLength: 1, maxLength: 3 }).map((labels) => EgressDestination.fqdn(`${labels.join('.')}.example.com`)),
  fc.constantFrom(EgressDestination.anyIpv4(), EgressDestination.anyIpv6()),
);

const port = fc.oneof(
  fc.integer({ min: 1, max: 65535 }).map((p) => EgressPort.tcp(p)),
  fc.integer({ min: 1, max: 65535 }).map((p) => EgressPort.udp(p)),
  fc
    .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }))
    .map(([a, b]) => EgressPort.tcpRange(Math.min(a, b), Math.max(a, b))),
  fc
    .tuple(fc.constantFrom('tcp', 'udp', 'sctp'), fc.integer({ min: 1, max: 65535 }))
    .map(([protocol, fromPort]) => EgressPort.of({ protocol, fromPort })),
  fc.constantFrom(
    EgressPort.HTTPS,
    EgressPort.DNS_UDP,
    EgressPort.allTcp(),
    EgressPort.allUdp(),
    EgressPort.allTraffic(),
    EgressPort.icmp(),
    EgressPort.protocol('gre'),
  ),
);

const schedule = fc
  .tuple(
    fc.integer({ min: 0, max: 1439 }),
    fc.integer({ min: 1, max: 1440 }),
    fc.subarray(Object.values(Weekday), { minLength: 1 }),
    fc.constantFrom(undefined, 'UTC', 'Europe/Berlin'),
  )
  .filter(([start, end]) => end > start)
  .map(([start, end, daysOfWeek, timeZone]) => {
    const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    return { startTime: hhmm(start), endTime: hhmm(end), daysOfWeek, ...(timeZone ? { timeZone } : {}) };
  });

/** Valid props of one level, without device (added per construct). */
function ruleProps(level: Level) {
  const common = {
    name: LABEL,
    action: fc.constantFrom(...Object.values(EgressAction)),
    priority: fc.integer({ min: 0, max: 1000 }),
    destinations: fc.array(destination, { minLength: 1, maxLength: 4 }),
    ports: fc.array(port, { minLength: 1, maxLength: 4 }),
    logging: fc.boolean(),
    audit: fc.boolean(),
    description: SAFE_TEXT,
    schedule,
    expiresAt: fc
      .date({ min: new Date('2030-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    owner: SAFE_TEXT,
    ticket: fc.stringMatching(/^[A-Z]{2,5}-[0-9]{1,5}$/),
    justification: SAFE_TEXT,
  };
  const levelProps: Record<string, fc.Arbitrary<unknown>> = level === 'cluster'
    ? { namespaceSelector: selector, podSelector: selector }
    : level === 'namespace'
      ? { namespace: LABEL, podSelector: selector }
      : { namespace: LABEL, service: LABEL };
  const model: Record<string, fc.Arbitrary<unknown>> = { ...common, ...levelProps };
  return fc
    .record(model, {
      requiredKeys: ['action', 'destinations', ...(level === 'cluster' ? [] : ['namespace']), ...(level === 'service' ? ['service'] : [])],
    })
    .chain((props) =>
      // A bandwidth limit only on rules that let traffic through.
      props.action === EgressAction.ALLOW || props.action === EgressAction.ALLOW_FINAL
        ? fc.option(bandwidthLimit, { nil: undefined }).map((bandwidthLimit) => (bandwidthLimit ? { ...props, bandwidthLimit } : props))
        : fc.constant(props),
    );
}

/** A limit within a BIG-IP bandwidth policy's range, 1 Mbps to 320 Gbps, in any unit (or the default Mbps). */
const bandwidthLimit = fc.oneof(
  fc.integer({ min: 1, max: 320_000 }).map((maxBandwidth) => ({ maxBandwidth })),
  fc.constantFrom(...Object.values(BandwidthUnit)).chain((unit) => {
    const [min, max] = { bps: [1e6, 3.2e11], Kbps: [1e3, 3.2e8], Mbps: [1, 3.2e5], Gbps: [1, 320] }[unit];
    return fc.integer({ min, max }).map((maxBandwidth) => ({ maxBandwidth, unit }));
  }),
);

const KNOWN_KEYS: Record<Level, readonly string[]> = {
  cluster: [
    'device',
    'name',
    'action',
    'priority',
    'destinations',
    'ports',
    'logging',
    'audit',
    'description',
    'bandwidthLimit',
    'schedule',
    'expiresAt',
    'owner',
    'ticket',
    'justification',
    'namespaceSelector',
    'podSelector',
  ],
  namespace: [
    'device',
    'name',
    'action',
    'priority',
    'destinations',
    'ports',
    'logging',
    'audit',
    'description',
    'bandwidthLimit',
    'schedule',
    'expiresAt',
    'owner',
    'ticket',
    'justification',
    'namespace',
    'podSelector',
  ],
  service: [
    'device',
    'name',
    'action',
    'priority',
    'destinations',
    'ports',
    'logging',
    'audit',
    'description',
    'bandwidthLimit',
    'schedule',
    'expiresAt',
    'owner',
    'ticket',
    'justification',
    'namespace',
    'service',
  ],
};
const MISPLACED: Record<Level, readonly string[]> = {
  cluster: ['namespace', 'service'],
  namespace: ['service', 'namespaceSelector'],
  service: ['podSelector', 'namespaceSelector'],
};

/** One key the level does not have: misplaced, misspelled, or anything else (`__proto__` too). */
function unknownKey(level: Level) {
  const misspelled = fc.tuple(fc.constantFrom(...KNOWN_KEYS[level]), fc.nat(), fc.constantFrom('e', 'x', '_', 'S')).map(([key, at, c]) => {
    const i = at % (key.length + 1);
    return key.slice(0, i) + c + key.slice(i);
  });
  return fc
    .oneof(
      fc.constantFrom(...MISPLACED[level]),
      misspelled,
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'level', 'path', 'port'),
    )
    .filter((key) => !KNOWN_KEYS[level].includes(key));
}

const LEVEL = fc.constantFrom<Level>('cluster', 'namespace', 'service');

describe('strict rule props (property)', () => {
  test('valid props build a rule; the same props with one unknown or misplaced key fail, naming it', () => {
    const { stack, device } = deviceStack();
    let n = 0;
    fc.assert(
      fc.property(
        LEVEL.chain((level) => fc.tuple(fc.constant(level), ruleProps(level), unknownKey(level), fc.anything())),
        ([level, props, key, value]) => {
          n += 1;
          const valid = { ...props, device, name: `${props.name ?? 'r'}-${n}` };
          const rule = newRule(level, stack, `Valid${n}`, valid) as ClusterEgressRule;
          expect(rule._model.level).toBe(level);
          expect(rule._model.destinations.length).toBeGreaterThan(0);

          const withKey = { ...valid, name: `${valid.name}-x` };
          // defineProperty, not assignment: "__proto__" must be an own key, as JSON.parse makes it.
          Object.defineProperty(withKey, key, { value, enumerable: true, writable: true, configurable: true });
          if (MISPLACED[level].includes(key) && value === undefined) {
            // TypeScript reads an optional prop set to undefined as unset: it cannot widen anything.
            const same = newRule(level, stack, `Undefined${n}`, withKey) as ClusterEgressRule;
            expect(same._model).toEqual({ ...rule._model, name: withKey.name, path: `egress/Undefined${n}` });
            return;
          }
          const issues = issuesOf(() => newRule(level, stack, `Invalid${n}`, withKey));
          expect(issues).toEqual([
            expect.objectContaining({
              path: `egress/Invalid${n}`,
              field: key,
              message: expect.stringMatching(/^is not a prop of a (Cluster|Namespace|Service)EgressRule/),
            }),
          ]);
          if (MISPLACED[level].includes(key)) expect(issues[0].message).not.toMatch(/never ignored/);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('props the device cannot take are refused whatever else is right', () => {
    const { stack, device } = deviceStack();
    expect(AfmDevice.isAfmDevice(device)).toBe(true);
    let n = 0;
    fc.assert(
      fc.property(
        LEVEL.chain((level) => fc.tuple(fc.constant(level), ruleProps(level))),
        fc.constantFrom(null, 'bigip', 1, {}, [], undefined),
        ([level, props], notADevice) => {
          n += 1;
          const issues = issuesOf(() => newRule(level, stack, `R${n}`, { ...props, device: notADevice }));
          expect(issues).toEqual([
            expect.objectContaining({
              path: `egress/R${n}`,
              field: 'device',
              message: 'must be an AfmDevice (created with new AfmDevice(...)) in the stack of the rule',
            }),
          ]);
        },
      ),
      { numRuns: 30 },
    );
  });
});
