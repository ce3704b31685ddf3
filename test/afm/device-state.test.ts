/**
 * The expected device state of one owner: attachments, resolver, tmsh commands and ownership
 * checks, from the compiled policies alone.
 */
import { expectedDeviceState, ownDeviceState, ownershipConflicts, tmshErrors } from '../../lib/afm/device-state';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPolicyError } from '../../lib/policy/errors';
import type { DeviceModel } from '../../lib/policy/model';
import { buildRule } from '../../lib/policy/schema';
import { testDevice } from '../support/device';

const compiled = (device: Partial<DeviceModel>, audit = false) =>
  compilePolicy({
    device: testDevice({ podCidrs: [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 }], ...device }),
    externalServices: [],
    rules: [buildRule({ level: 'cluster', path: 'app/Dns', name: 'dns', action: 'ALLOW', audit, destinations: [D.address('10.96.0.10')] })],
  });

describe('expectedDeviceState', () => {
  test('a shared BIG-IP: one global attachment, one per route domain (named or not), the resolver', () => {
    const east = compiled({ tenant: 'k8s_east', cluster: 'east', routeDomain: 2, routeDomainPath: '/Common/rd_east' });
    const west = compiled({ tenant: 'k8s_west', cluster: 'west', routeDomain: 3 });
    const state = expectedDeviceState('dc1', [west, east], '/Common/egress-resolver');
    expect(state).toEqual({
      owner: 'dc1',
      global: { enforcedPolicy: '/Common/Shared/dc1_global_policy', stagedPolicy: '/Common/Shared/dc1_global_policy_staged' },
      routeDomains: [
        {
          id: 2,
          path: '/Common/rd_east',
          enforcedPolicy: '/Common/Shared/dc1_rd2_policy',
          stagedPolicy: '/Common/Shared/dc1_rd2_policy_staged',
        },
        { id: 3, path: '/Common/3', enforcedPolicy: '/Common/Shared/dc1_rd3_policy', stagedPolicy: '/Common/Shared/dc1_rd3_policy_staged' },
      ],
      dnsResolver: '/Common/egress-resolver',
      commands: {
        read: [
          'list security firewall global-rules',
          'list net route-domain /Common/rd_east',
          'list net route-domain /Common/3',
          'list security firewall global-fqdn-policy',
        ],
        resolver: ['modify security firewall global-fqdn-policy dns-resolver /Common/egress-resolver', 'save sys config'],
        contexts: [
          'modify security firewall global-rules enforced-policy /Common/Shared/dc1_global_policy staged-policy /Common/Shared/dc1_global_policy_staged',
          'modify net route-domain /Common/rd_east fw-staged-policy /Common/Shared/dc1_rd2_policy_staged',
          'modify net route-domain /Common/3 fw-staged-policy /Common/Shared/dc1_rd3_policy_staged',
          'save sys config',
        ],
        release: ['modify security firewall global-rules enforced-policy none staged-policy none', 'save sys config'],
        releaseResolver: ['modify security firewall global-fqdn-policy dns-resolver none', 'save sys config'],
        releaseRouteDomains: {
          2: ['modify net route-domain /Common/rd_east fw-staged-policy none', 'save sys config'],
          3: ['modify net route-domain /Common/3 fw-staged-policy none', 'save sys config'],
        },
      },
      checks: expect.any(Array),
    });
    expect(state.checks.map((c) => `${c.guards} ${c.read} ${c.what}: ${c.allowed.join(' | ')}`)).toEqual([
      'contexts 0 the enforced policy of the global context: none | /Common/Shared/dc1_global_policy | Shared/dc1_global_policy',
      'contexts 0 the staged policy of the global context: none | /Common/Shared/dc1_global_policy_staged | Shared/dc1_global_policy_staged',
      'declaration 1 the id of route domain /Common/rd_east: 2',
      'declaration 1 the enforced policy of route domain /Common/rd_east: none | /Common/Shared/dc1_rd2_policy | Shared/dc1_rd2_policy',
      'contexts 1 the staged policy of route domain /Common/rd_east: none | /Common/Shared/dc1_rd2_policy_staged | Shared/dc1_rd2_policy_staged',
      'declaration 2 the id of route domain /Common/3: 3',
      'declaration 2 the enforced policy of route domain /Common/3: none | /Common/Shared/dc1_rd3_policy | Shared/dc1_rd3_policy',
      'contexts 2 the staged policy of route domain /Common/3: none | /Common/Shared/dc1_rd3_policy_staged | Shared/dc1_rd3_policy_staged',
      'resolver 3 the DNS resolver of the global FQDN policy: none | /Common/egress-resolver | egress-resolver',
    ]);
  });

  test('audit rules change no attachment and no command (B2)', () => {
    expect(ownDeviceState(compiled({}, true))).toEqual(ownDeviceState(compiled({})));
    expect(ownDeviceState(compiled({ audit: true }))).toEqual(ownDeviceState(compiled({})));
  });

  test('one route domain has one path and one id on a BIG-IP', () => {
    const a = compiled({ tenant: 'k8s_a', routeDomain: 2, routeDomainPath: '/Common/rd_a' });
    const b = compiled({ tenant: 'k8s_b', routeDomain: 2, routeDomainPath: '/Common/rd_b' });
    const c = compiled({ tenant: 'k8s_c', routeDomain: 4, routeDomainPath: '/Common/rd_a' });
    const messages = (devices: ReturnType<typeof compiled>[]) => {
      try {
        expectedDeviceState('dc1', devices);
      } catch (e) {
        if (e instanceof EgressPolicyError) return e.issues.map((i) => `${i.field}: ${i.message}`);
        throw e;
      }
      return [];
    };
    expect(messages([a, b])).toEqual([
      'routeDomainName: route domain 2 on this BIG-IP is /Common/rd_a for app/stack/Bigip; one route domain has one name: give both devices the same routeDomainName (BIG-IP shared as dc1)',
    ]);
    expect(messages([a, c])).toEqual([
      'routeDomain: /Common/rd_a has id 2 for app/stack/Bigip; one route domain has one id: give both devices the same routeDomain (BIG-IP shared as dc1)',
    ]);
  });
});

describe('reading the device', () => {
  const state = expectedDeviceState('dc1', [compiled({ tenant: 'k8s_east', routeDomain: 2 })], '/Common/egress-resolver');

  test('values this owner set, none and unset attributes are no conflict; another owner\u2019s are', () => {
    const ours = [
      'security firewall global-rules {\n    enforced-policy /Common/Shared/dc1_global_policy\n    staged-policy Shared/dc1_global_policy_staged\n}\n',
      'net route-domain /Common/2 {\n    id 2\n    fw-enforced-policy none\n}\n',
      'security firewall global-fqdn-policy { }\n',
    ];
    expect(ownershipConflicts(state, ours)).toEqual([]);
    const foreign = [
      'security firewall global-rules {\n    enforced-policy /netsec/fw/base\n}\n',
      'net route-domain /Common/2 {\n    id 7\n    fw-enforced-policy /Common/Shared/dc1_rd2_policy\n    fw-staged-policy /Common/other_staged\n}\n',
      'security firewall global-fqdn-policy {\n    dns-resolver /Common/corp-resolver\n}\n',
    ];
    expect(ownershipConflicts(state, foreign).map((c) => `${c.check.guards}: ${c.check.what} is ${c.found}`)).toEqual([
      'contexts: the enforced policy of the global context is /netsec/fw/base',
      'declaration: the id of route domain /Common/2 is 7',
      'contexts: the staged policy of route domain /Common/2 is /Common/other_staged',
      'resolver: the DNS resolver of the global FQDN policy is /Common/corp-resolver',
    ]);
  });

  test('an attribute of a longer name is not mistaken for another (fw-enforced-policy is not enforced-policy)', () => {
    const onlyRouteDomainAttribute = ['fw-enforced-policy /netsec/fw/base\n', 'net route-domain /Common/2 {\n    id 2\n}\n', ''];
    expect(ownershipConflicts(state, onlyRouteDomainAttribute)).toEqual([]);
  });

  test('tmsh errors are told from output', () => {
    expect(
      tmshErrors([
        '',
        'Saving running configuration...\n  /config/bigip.conf\n',
        '01020036:3: The requested DNS Resolver (/Common/x) was not found.\n',
        'Syntax Error: "enforced-polcy" unknown property\n',
        'security firewall global-rules {\n    description "Syntax Error: in a description"\n}\n',
      ]).map((e) => e.index),
    ).toEqual([2, 3]);
  });
});
