/**
 * Props and values from callers whose types are not checked (JavaScript, jsii): class
 * instances, keys set to undefined, a polluted Object.prototype, objects that only look like
 * value objects, lists beyond what a custom resource holds, and the fix every refusal names.
 */
import fc from 'fast-check';
import { buildGuardrailSet } from '../../lib/policy/guardrails';
import { EgressDestination as D, isEgressDestination } from '../../lib/policy/destination';
import { EgressPort as P, isEgressPort } from '../../lib/policy/port';
import { buildExternalService, buildRule, instantProblem } from '../../lib/policy/schema';
import { objectPrototypePollution, prototypePollutionIssues, readStruct } from '../../lib/policy/struct';
import { CR_LIMITS } from '../../lib/policy/limits';
import { issuesOf } from '../support/issues';

const js = (v: unknown) => v as any;

const rule = {
  level: 'namespace' as const,
  path: 'app/stack/Rule',
  name: 'r',
  namespace: 'payments',
  action: 'ALLOW',
  destinations: [D.cidr('203.0.113.0/24')],
};

/** Sets `key` on Object.prototype (as another library might) while `fn` runs. */
function withPollution<T>(values: Record<string, unknown>, fn: () => T): T {
  for (const [key, value] of Object.entries(values))
    Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true, enumerable: false });
  try {
    return fn();
  } finally {
    for (const key of Object.keys(values)) delete (Object.prototype as Record<string, unknown>)[key];
  }
}

describe('props given as a class instance', () => {
  test('an instance whose prototype defines only its constructor is read from its own keys', () => {
    class Schedule {
      public readonly startTime = '08:00';
      public readonly endTime = '17:00';
    }
    expect(readStruct(new Schedule(), 'an EgressSchedule')).toEqual({
      data: Object.assign(Object.create(null), { startTime: '08:00', endTime: '17:00' }),
      problems: [],
    });
    expect(buildRule(js({ ...rule, schedule: new Schedule() })).schedule).toEqual({
      daysOfWeek: expect.any(Array),
      startTime: '08:00',
      endTime: '17:00',
      timeZone: 'UTC',
    });
  });

  test('an instance with a getter, method or field on its prototype chain is refused, naming them', () => {
    class Base {
      public get timeZone() {
        return 'Europe/Berlin';
      }
    }
    class Schedule extends Base {
      public readonly startTime = '08:00';
      public readonly endTime = '17:00';
      public describe() {
        return 'office hours';
      }
    }
    expect(readStruct(new Schedule(), 'an EgressSchedule').problems).toEqual([
      {
        value: '{"startTime":"08:00","endTime":"17:00"}',
        message:
          'expected an EgressSchedule written as an object literal, not a Schedule object: Schedule has describe, timeZone on its prototype, and props are read only from the object itself; pass an object literal',
      },
    ]);
  });

  test('props inherited from another object are refused, naming them', () => {
    expect(readStruct(Object.create({ action: 'ALLOW' }), 'the props').problems).toEqual([
      {
        value: '{}',
        message:
          'expected the props written as an object literal, not an object that inherits action from another object: props are read only from the object itself; pass an object literal',
      },
    ]);
  });

  test('a missing struct says what to pass', () => {
    expect(readStruct(undefined, 'an EgressSchedule ({ startTime, endTime })').problems).toEqual([
      { value: 'nothing', message: 'is required: pass an EgressSchedule ({ startTime, endTime })' },
    ]);
  });
});

describe('a key of another rule level set to undefined', () => {
  test.each([
    ['cluster', 'namespace'],
    ['cluster', 'service'],
    ['namespace', 'service'],
    ['namespace', 'namespaceSelector'],
    ['service', 'namespaceSelector'],
    ['service', 'podSelector'],
  ] as const)('is absent on a %s rule: %s', (level, key) => {
    const props = {
      ...rule,
      level,
      ...(level === 'cluster' ? { namespace: undefined } : {}),
      ...(level === 'service' ? { service: 'checkout' } : {}),
    };
    expect(buildRule(js({ ...props, [key]: undefined }))).toEqual(buildRule(js(props)));
  });

  test('any other value of it is refused', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => v !== undefined),
        (value) => {
          expect(issuesOf(() => buildRule(js({ ...rule, level: 'cluster', namespace: value })))).toEqual([
            expect.objectContaining({
              field: 'namespace',
              message: expect.stringMatching(/^is not a prop of a ClusterEgressRule: a cluster rule applies to every namespace/),
            }),
          ]);
        },
      ),
      { numRuns: 50 },
    );
  });

  test('an unknown key set to undefined is still refused', () => {
    expect(issuesOf(() => buildRule(js({ ...rule, podSelecter: undefined })))).toEqual([
      expect.objectContaining({ field: 'podSelecter', value: 'nothing' }),
    ]);
  });

  test('an ExternalService takes ports: undefined as no ports', () => {
    const es = { path: 'app/stack/Bank', name: 'bank', destinations: [D.address('198.51.100.7')] };
    expect(buildExternalService(js({ ...es, ports: undefined }))).toEqual(buildExternalService(es));
  });
});

describe('a polluted Object.prototype', () => {
  const full = {
    ...rule,
    podSelector: { matchLabels: { app: 'web' } },
    schedule: { startTime: '08:00', endTime: '17:00' },
    bandwidthLimit: { maxBandwidth: 10 },
    ports: [P.HTTPS],
  };

  test('does not change a rule model: left-out props stay at their defaults', () => {
    const clean = buildRule(js(full));
    const polluted = withPollution(
      {
        audit: true,
        logging: true,
        priority: 0,
        description: 'polluted',
        timeZone: 'Asia/Tokyo',
        unit: 'Gbps',
        daysOfWeek: ['monday'],
        owner: 'x',
        expiresAt: '2000-01-01T00:00:00Z',
      },
      () => buildRule(js(full)),
    );
    expect(polluted).toEqual(clean);
    expect(polluted).toMatchObject({
      audit: false,
      logging: false,
      priority: 500,
      description: undefined,
      bandwidth: { unit: 'Mbps' },
      schedule: { timeZone: 'UTC' },
    });
  });

  test('does not switch a guardrail off', () => {
    const clean = buildGuardrailSet({ requireOwner: true });
    expect(
      withPollution({ forbidCatchAll: false, mode: 'WARN', requireOwner: false, name: 'polluted' }, () =>
        buildGuardrailSet({ requireOwner: true }),
      ),
    ).toEqual(clean);
    expect(clean).toMatchObject({ name: 'egress guardrails', warnOnly: false, forbidCatchAll: true, requireOwner: true });
  });

  test('a rule source has every field, so no reader finds an inherited one', () => {
    for (const level of ['cluster', 'namespace', 'service'] as const) {
      const source = buildRule(
        js({
          ...rule,
          level,
          ...(level === 'cluster' ? { namespace: undefined } : {}),
          service: level === 'service' ? 'checkout' : undefined,
        }),
      ).source;
      expect(Object.keys(source).sort()).toEqual(['level', 'namespace', 'namespaceSelector', 'podSelector', 'service']);
    }
  });

  test('object values on it are reported (cdktf would merge them into resources); functions and plain values are not', () => {
    expect(objectPrototypePollution()).toEqual([]);
    withPollution({ ports: [P.allTraffic()], podSelector: { matchLabels: { x: 'y' } }, audit: true, helper: () => 1 }, () => {
      expect(prototypePollutionIssues('app/stack/Rule')).toEqual([
        {
          path: 'app/stack/Rule',
          field: 'Object.prototype.ports',
          value: '[{"protocolName":"any"}]',
          message:
            'is set by other code in this program, and cdktf would merge it into the synthesized resources (adding to them, or dropping parts of them), so nothing is synthesized: find the code that sets it and remove it (delete Object.prototype.ports)',
        },
        expect.objectContaining({ field: 'Object.prototype.podSelector', value: '{"matchLabels":{"x":"y"}}' }),
      ]);
    });
  });
});

describe('objects that only look like value objects', () => {
  test('a destination or port not made by a factory is refused on its index, never a TypeError', () => {
    const fakeDestination = Object.create(D.prototype);
    const fakePort = Object.create(P.prototype);
    expect(isEgressDestination(fakeDestination)).toBe(false);
    expect(isEgressPort(fakePort)).toBe(false);
    expect(String(fakeDestination)).toBe('an EgressDestination not made by its static factories');
    expect(fakeDestination.externalServiceRef).toBeUndefined();
    expect(issuesOf(() => buildRule(js({ ...rule, destinations: [fakeDestination], ports: [P.HTTPS, fakePort] })))).toEqual([
      {
        path: 'app/stack/Rule',
        field: 'destinations[0]',
        value: '"an EgressDestination not made by its static factories"',
        message: 'expected an EgressDestination made with its static factories, such as EgressDestination.cidr("10.0.0.0/8")',
      },
      {
        path: 'app/stack/Rule',
        field: 'ports[1]',
        value: '"an EgressPort not made by its static factories"',
        message: 'expected an EgressPort made with its static factories, such as EgressPort.HTTPS',
      },
    ]);
    expect(issuesOf(() => buildExternalService(js({ path: 'app/stack/Bank', name: 'bank', destinations: [fakeDestination] })))).toEqual([
      expect.objectContaining({
        field: 'destinations[0]',
        message: expect.stringMatching(/^expected an EgressDestination made with its static factories/),
      }),
    ]);
    expect(
      issuesOf(() => buildGuardrailSet({ allowedDestinations: [fakeDestination], allowedPorts: [fakePort] })).map((i) => i.field),
    ).toEqual(['allowedDestinations[0]', 'allowedPorts[0]']);
    expect(() => fakeDestination._toModel()).toThrow('make destinations with the static factories');
    expect(() => fakePort._toModel()).toThrow('make ports with the static factories');
  });

  test('what a destination or port was made from is not reachable from the object', () => {
    const destination = D.cidr('203.0.113.0/24');
    expect(Reflect.ownKeys(destination)).toEqual([]);
    expect(Reflect.ownKeys(P.tcp(443)).sort()).toEqual(['fromPort', 'protocolName', 'toPort']);
    expect(isEgressDestination(destination) && isEgressPort(P.HTTPS)).toBe(true);
  });
});

describe('lists are bounded as their custom resources are', () => {
  const addresses = (n: number) => Array.from({ length: n }, (_, i) => D.address(`10.${(i >> 8) & 255}.${i & 255}.1`));

  test('a rule takes 512 destinations and refuses 513, counted without duplicates', () => {
    expect(buildRule(js({ ...rule, destinations: [...addresses(512), ...addresses(512)] })).destinations).toHaveLength(
      CR_LIMITS.destinations,
    );
    expect(issuesOf(() => buildRule(js({ ...rule, destinations: addresses(513) })))).toEqual([
      {
        path: 'app/stack/Rule',
        field: 'destinations',
        value: '513 destinations',
        message:
          'a rule has at most 512 destinations (its custom resource holds no more); put them into ExternalServices of up to 512 each and list those with EgressDestination.externalService()',
      },
    ]);
  });

  test('an ExternalService refuses 513 destinations', () => {
    expect(issuesOf(() => buildExternalService(js({ path: 'app/stack/Bank', name: 'bank', destinations: addresses(513) })))).toEqual([
      expect.objectContaining({
        field: 'destinations',
        value: '513 destinations',
        message: expect.stringMatching(/^an ExternalService has at most 512 destinations .*; split them over several ExternalServices/),
      }),
    ]);
  });

  test('a rule refuses 65 ports', () => {
    const ports = Array.from({ length: 65 }, (_, i) => P.tcp(1000 + i));
    expect(buildRule(js({ ...rule, ports: ports.slice(0, 64) })).ports).toHaveLength(64);
    expect(issuesOf(() => buildRule(js({ ...rule, ports })))).toEqual([
      expect.objectContaining({
        field: 'ports',
        value: '65 ports',
        message: expect.stringMatching(/^a rule has at most 64 ports .*; use port ranges/),
      }),
    ]);
  });

  test('selectors refuse more labels, requirements and values than the custom resource holds', () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    const requirements = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, operator: 'Exists' }));
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    expect(() =>
      buildRule(
        js({
          ...rule,
          podSelector: {
            matchLabels: labels(32),
            matchExpressions: [...requirements(15), { key: 'x', operator: 'In', values: values(64) }],
          },
        }),
      ),
    ).not.toThrow();
    expect(
      issuesOf(() => buildRule(js({ ...rule, podSelector: { matchLabels: labels(33), matchExpressions: requirements(17) } }))).map((i) => [
        i.field,
        i.value,
        i.message,
      ]),
    ).toEqual([
      [
        'podSelector.matchLabels',
        '33 labels',
        'a selector has at most 32 labels (the custom resource holds no more); select on fewer labels',
      ],
      [
        'podSelector.matchExpressions',
        expect.any(String),
        'has 17 requirements, and the custom resource holds at most 16; select with fewer requirements',
      ],
    ]);
    expect(
      issuesOf(() => buildRule(js({ ...rule, podSelector: { matchExpressions: [{ key: 'x', operator: 'In', values: values(65) }] } }))),
    ).toEqual([
      expect.objectContaining({
        field: 'podSelector.matchExpressions[0].values',
        message: 'has 65 values, and the custom resource holds at most 64; split the requirement over several rules',
      }),
    ]);
  });
});

describe('every refusal says what to do', () => {
  test.each([
    [
      'a CIDR of no address',
      { destinations: [D.cidr('999.0.0.0/8')] },
      'destinations[0]',
      'the CIDR does not start with a valid IPv4 or IPv6 address; write it like "198.51.100.0/24" or "2001:db8::/32"',
    ],
    ['a day the month does not have', { expiresAt: '2099-02-30T00:00:00Z' }, 'expiresAt', '2099-02 has no day 30: use a day from 01 to 28'],
    [
      'EgressPort.of() without props',
      { ports: [P.of(js(undefined))] },
      'ports[0]',
      'EgressPort.of() needs an EgressPortProps object: pass one, such as EgressPort.of({ protocol: "udplite", fromPort: 5000 })',
    ],
    [
      'a port range with one end',
      { ports: [js(P).udpRange(53)] },
      'ports[0]',
      'a port range needs two port numbers, the first and the last port: give both, or for the one port 53 write EgressPort.udp(53)',
    ],
  ])('%s', (_, props, field, message) => {
    expect(issuesOf(() => buildRule(js({ ...rule, ...props })))[0]).toMatchObject({ field, message });
  });

  test('an empty schedule names both times', () => {
    expect(issuesOf(() => buildRule(js({ ...rule, schedule: {} }))).map((i) => i.message)).toEqual([
      'is required: set startTime to a time, HH:MM on a 24-hour clock, such as "08:30"',
      'is required: set endTime to a time, HH:MM on a 24-hour clock, such as "17:00", or "24:00" for the end of the day',
    ]);
  });

  test('an ExternalService without destinations says what to list', () => {
    expect(issuesOf(() => buildExternalService(js({ path: 'app/stack/Bank', name: 'bank' })))).toEqual([
      {
        path: 'app/stack/Bank',
        field: 'destinations',
        value: 'nothing',
        message: 'is required: list at least one EgressDestination, such as [EgressDestination.fqdn("sftp.bank.example")]',
      },
    ]);
  });

  test('a day a month does not have is refused with the days it has, in every month of every year', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1970, max: 2400 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 31 }),
        (year, month, day) => {
          const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
          const mm = String(month).padStart(2, '0');
          const dd = String(day).padStart(2, '0');
          const problem = instantProblem(`${year}-${mm}-${dd}T00:00:00Z`);
          expect(problem).toBe(day >= 1 && day <= days ? undefined : `${year}-${mm} has no day ${dd}: use a day from 01 to ${days}`);
        },
      ),
    );
  });
});
