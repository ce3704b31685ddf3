/**
 * The pure parts of verify: the tmsh listing parser, the expected device (its context state
 * from lib/afm/device-state), each check against literal device answers, and verifyDevice over
 * a scripted reader.
 */
import fc from 'fast-check';
import { expectedDeviceState, ownDeviceState } from '../../lib/afm/device-state';
import { BigipApiError } from '../../lib/clients/bigip';
import { EMPTY_LIST_PLACEHOLDER } from '../../lib/clients/bigip/client';
import { compilePolicy } from '../../lib/policy/compile';
import {
  As3TaskRecord,
  DeviceAnswerError,
  DeviceReader,
  ExpectedDevice,
  canonicalJson,
  checkAs3Tasks,
  checkAttachments,
  checkDeclaration,
  checkLists,
  checkRouteDomains,
  expectedDevices,
  firstDifference,
  formatVerifyJson,
  formatVerifyText,
  parseRouteDomainListing,
  savedAfterChanges,
  tmshErrorOf,
  verifyDevice,
} from '../../lib/verify';
import { CLUSTERS, removeSynthDirs, synth } from './support';

let own: ExpectedDevice;
let shared: ExpectedDevice[];

beforeAll(() => {
  own = expectedDevices('cdktf.out', synth({ serviceRule: true, audit: true }))[0];
  shared = expectedDevices('cdktf.out', synth({ shared: true }));
});
afterAll(removeSynthDirs);

describe('parseRouteDomainListing', () => {
  test("the emulator's listing: full paths, one property a line", () => {
    const text =
      'net route-domain /Common/0 {\n    id 0\n    fw-enforced-policy /Common/Shared/p\n}\nnet route-domain /Common/2 {\n    id 2\n}\n';
    expect(parseRouteDomainListing(text)).toEqual([
      { path: '/Common/0', id: 0, enforcedPolicy: '/Common/Shared/p' },
      { path: '/Common/2', id: 2 },
    ]);
  });

  test("a device's listing: names relative to /Common, nested blocks, none, an empty block", () => {
    const text = [
      'net route-domain 0 {',
      '    id 0',
      '    vlans {',
      '        http-tunnel',
      '        socks-tunnel',
      '    }',
      '    fw-staged-policy Shared/staged',
      '    fw-enforced-policy none',
      '}',
      'net route-domain rd_prod {',
      '    id 12',
      '    strict enabled',
      '}',
      'net route-domain /Other/x { }',
      '',
    ].join('\n');
    expect(() => parseRouteDomainListing(text)).toThrow(
      new DeviceAnswerError('route domain /Other/x has no id from 0 to 65534 in "tmsh list net route-domain" (got undefined)'),
    );
    expect(parseRouteDomainListing(text.replace('net route-domain /Other/x { }\n', ''))).toEqual([
      { path: '/Common/0', id: 0, stagedPolicy: '/Common/Shared/staged' },
      { path: '/Common/rd_prod', id: 12 },
    ]);
  });

  test("tmsh's error text in the output is not a listing", () => {
    expect(() => parseRouteDomainListing('01020036:3: The requested route domain (/Common/9) was not found.\n')).toThrow(
      /line 1 of "tmsh list net route-domain" is not a route-domain block/,
    );
    expect(() => parseRouteDomainListing('net route-domain 0 {\n    id 0\n')).toThrow('"tmsh list net route-domain" ended inside a block');
  });

  test('tmshErrorOf finds the errors tmsh prints into a 200 answer', () => {
    expect(tmshErrorOf('Syntax Error: "bogus" unknown property\n')).toBe('Syntax Error: "bogus" unknown property');
    expect(tmshErrorOf('01020036:3: The requested DNS Resolver (/Common/r) was not found.\n')).toBe(
      '01020036:3: The requested DNS Resolver (/Common/r) was not found.',
    );
    expect(tmshErrorOf('net route-domain 0 {\n    id 0\n}\n')).toBeUndefined();
    expect(tmshErrorOf('')).toBeUndefined();
  });
});

describe('savedAfterChanges', () => {
  test('saved only when "save sys config" follows the last change', () => {
    const modify = 'modify security firewall global-rules enforced-policy /Common/Shared/g';
    expect(savedAfterChanges([])).toBe(true);
    expect(savedAfterChanges(['list security firewall global-rules'])).toBe(true);
    expect(savedAfterChanges([modify, 'save sys config'])).toBe(true);
    expect(savedAfterChanges(['save sys config', modify])).toBe(false);
  });
});

describe('the expected device from a synth output', () => {
  test('a device that owns its BIG-IP: the device state its tenant sets, saved commands', () => {
    const compiled = compilePolicy(own.model, { now: new Date(0) });
    expect(own.context).toEqual(ownDeviceState(compiled));
    expect({ global: own.context.global, routeDomains: own.context.routeDomains, dnsResolver: own.context.dnsResolver }).toEqual({
      global: { enforcedPolicy: '/Common/Shared/k8s_alpha_global_policy', stagedPolicy: '/Common/Shared/k8s_alpha_global_policy_staged' },
      routeDomains: [
        {
          id: 0,
          path: '/Common/0',
          enforcedPolicy: '/Common/Shared/k8s_alpha_rd0_policy',
          stagedPolicy: '/Common/Shared/k8s_alpha_rd0_policy_staged',
        },
      ],
      dnsResolver: '/Common/egress-resolver',
    });
    expect(own.savedAfterChanges).toBe(true);
    expect(own.sharedPrefixes).toEqual(['k8s_alpha_']);
  });

  test("devices on a SharedBigip: both see the SharedBigip's state over both route domains", () => {
    const compiled = shared.map((d) => compilePolicy(d.model, { now: new Date(0) }));
    for (const d of shared) expect(d.context).toEqual(expectedDeviceState('cdktf_ces', compiled, '/Common/egress-resolver'));
    expect(shared[1].context.routeDomains.map((r) => [r.path, r.enforcedPolicy, r.stagedPolicy])).toEqual([
      ['/Common/0', '/Common/Shared/cdktf_ces_rd0_policy', '/Common/Shared/cdktf_ces_rd0_policy_staged'],
      ['/Common/2', '/Common/Shared/cdktf_ces_rd2_policy', '/Common/Shared/cdktf_ces_rd2_policy_staged'],
    ]);
    expect(shared.map((d) => [d.label, d.sharedPrefixes, d.declarationIds, d.routeDomainIds, d.savedAfterChanges])).toEqual([
      [
        'alpha/k8s_alpha',
        ['cdktf_ces_', 'k8s_alpha_', 'k8s_beta_'],
        { k8s_alpha: 'cdktf-ces-k8s_alpha', Common: 'cdktf-ces-cdktf_ces' },
        [0, 2],
        true,
      ],
      [
        'beta/k8s_beta',
        ['cdktf_ces_', 'k8s_alpha_', 'k8s_beta_'],
        { k8s_beta: 'cdktf-ces-k8s_beta', Common: 'cdktf-ces-cdktf_ces' },
        [2],
        true,
      ],
    ]);
  });
});

describe('checkAs3Tasks', () => {
  const result = (tenant: string, code: number, declarationId: string, extra: Record<string, unknown> = {}) => ({
    tenant,
    code,
    message: code === 200 ? 'success' : 'declaration failed',
    declarationId,
    ...extra,
  });
  const ownId = 'cdktf-ces-k8s_alpha';
  const older: As3TaskRecord = {
    id: 'old',
    finishedAt: '2030-01-01T00:00:01.000Z',
    results: [result('Common', 200, ownId), result('k8s_alpha', 200, ownId), result('Common', 422, ownId, { response: 'in use' })],
  };
  const newer: As3TaskRecord = {
    id: 'new',
    finishedAt: '2030-01-01T00:00:02.000Z',
    results: [result('Common', 200, ownId), result('k8s_alpha', 200, ownId), result('Common', 200, ownId)],
  };

  test('the final Common pass of the newest task counts, whatever order the device lists tasks in', () => {
    const failing: As3TaskRecord = { ...newer, id: 'newest', finishedAt: '2030-01-01T00:00:03.000Z', results: [...older.results] };
    for (const order of [
      [older, newer, failing],
      [failing, newer, older],
      [newer, failing, older],
    ]) {
      expect(checkAs3Tasks(own, order).map((p) => [p.severity, p.where, p.found])).toEqual([
        ['error', 'AS3 task newest of 2030-01-01T00:00:03.000Z, tenant Common (final pass)', '422 declaration failed: in use'],
      ]);
    }
    expect(checkAs3Tasks(own, [older, newer])).toEqual([]);
  });

  test("Common run by a tenant-only declaration (AS3 adds the stored Common) does not hide the shared declaration's failure", () => {
    const [alpha] = shared;
    const sharedTask: As3TaskRecord = {
      id: 's',
      finishedAt: '2030-01-01T00:00:01.000Z',
      results: [result('Common', 200, 'cdktf-ces-cdktf_ces'), result('Common', 422, 'cdktf-ces-cdktf_ces', { response: 'in use' })],
    };
    const tenantTask: As3TaskRecord = {
      id: 't',
      finishedAt: '2030-01-01T00:00:02.000Z',
      results: [result('Common', 200, ownId), result('k8s_alpha', 200, ownId), result('Common', 200, ownId)],
    };
    expect(checkAs3Tasks(alpha, [tenantTask, sharedTask]).map((p) => p.where)).toEqual([
      'AS3 task s of 2030-01-01T00:00:01.000Z, tenant Common (final pass)',
    ]);
    // Another owner's failed tenant in the same device is not this device's problem.
    const otherTask: As3TaskRecord = {
      id: 'o',
      finishedAt: '2030-01-01T00:00:03.000Z',
      results: [result('k8s_beta', 422, 'cdktf-ces-k8s_beta')],
    };
    expect(checkAs3Tasks(alpha, [otherTask, tenantTask]).map((p) => p.where)).toEqual([]);
  });

  test('dry runs are not deploys, a running task is a warning, whole-request failures without a time are left to the declaration check', () => {
    const dry: As3TaskRecord = {
      id: 'dry',
      finishedAt: '2030-01-01T00:00:09.000Z',
      results: [result('k8s_alpha', 422, ownId, { dryRun: true })],
    };
    const running: As3TaskRecord = { id: 'run', results: [{ code: 0, message: 'in progress' }] };
    const invalid: As3TaskRecord = { id: 'bad', results: [{ code: 422, message: 'declaration is invalid', errors: ['x'] }] };
    expect(checkAs3Tasks(own, [dry, running, invalid, newer]).map((p) => [p.severity, p.where])).toEqual([['warning', 'AS3 task run']]);
  });
});

describe('checkDeclaration', () => {
  const stored = (
    d: ExpectedDevice,
    change: (shared: Record<string, unknown>, tenant: Record<string, unknown>) => void = () => undefined,
  ) => {
    const tenant = structuredClone(d.tenantDeclaration);
    const items = structuredClone(d.sharedItems) as Record<string, unknown>;
    change(items, tenant);
    return {
      class: 'ADC',
      id: 'other id',
      remark: 'other remark',
      controls: { archiveTimestamp: '2030-01-01T00:00:00.000Z' },
      Common: { class: 'Tenant', Shared: { class: 'Application', template: 'shared', ...items } },
      [d.tenant]: tenant,
    };
  };

  test('equal content passes whatever the header (id, remark, archiveTimestamp) and key order', () => {
    expect(checkDeclaration(own, stored(own))).toEqual([]);
    const reordered = JSON.parse(canonicalJson(stored(own)));
    expect(checkDeclaration(own, reordered)).toEqual([]);
  });

  test('a changed tenant, a changed, a missing and a stale object of ours; a foreign object is left alone', () => {
    const problems = checkDeclaration(
      own,
      stored(own, (items, tenant) => {
        (tenant.egress as Record<string, unknown>).class = 'Application ';
        (items.k8s_alpha_ports_443 as { ports: number[] }).ports = [444];
        delete items.k8s_alpha_ports_53;
        items.k8s_alpha_old_list = { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] };
        items.someone_elses = { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] };
      }),
    );
    expect(problems.map((p) => [p.where, p.found.replace(/[0-9a-f]{12}/, '<digest>')])).toEqual([
      ['AS3 tenant k8s_alpha', 'sha256 <digest>, first difference at /egress/class'],
      ['/Common/Shared: k8s_alpha_ports_53', 'not in the stored declaration'],
      ['/Common/Shared/k8s_alpha_ports_443', 'sha256 <digest>, first difference at /ports/0'],
      ['/Common/Shared: k8s_alpha_old_list', '1 stale object(s) of this deploy still stored'],
    ]);
  });

  test('nothing stored, or the tenant missing', () => {
    expect(checkDeclaration(own, null).map((p) => p.found)).toEqual(['AS3 stores no declaration']);
    const { [own.tenant]: _gone, ...rest } = stored(own);
    expect(checkDeclaration(own, rest).map((p) => p.found)).toEqual(['no such tenant in the stored declaration']);
  });

  test('firstDifference names the first differing JSON pointer; canonical JSON ignores key order', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 4 }),
    })).object;
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reversed(x)]),
            )
          : v;
    const leaves = (v: unknown, at: string[] = []): string[][] =>
      Array.isArray(v)
        ? v.flatMap((x, i) => leaves(x, [...at, String(i)]))
        : v && typeof v === 'object'
          ? Object.entries(v).flatMap(([k, x]) => leaves(x, [...at, k]))
          : [at];
    fc.assert(
      fc.property(json, fc.nat(), (value, pick) => {
        expect(firstDifference(value, reversed(value))).toBeUndefined();
        expect(canonicalJson(reversed(value))).toBe(canonicalJson(value));
        const paths = leaves(value).filter((p) => p.length > 0);
        if (paths.length === 0) return;
        const at = paths[pick % paths.length];
        const changed = structuredClone(value) as Record<string, unknown>;
        let parent: Record<string, unknown> = changed;
        for (const k of at.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
        parent[at[at.length - 1]] = { changed: true };
        expect(firstDifference(value, changed)).toBe(at.map((k) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`).join(''));
      }),
    );
  });
});

describe('checkAttachments and checkRouteDomains', () => {
  const rd0 = (over: Record<string, string> = {}) => ({
    path: '/Common/0',
    id: 0,
    enforcedPolicy: '/Common/Shared/k8s_alpha_rd0_policy',
    stagedPolicy: '/Common/Shared/k8s_alpha_rd0_policy_staged',
    ...over,
  });
  const global = {
    enforcedPolicy: '/Common/Shared/k8s_alpha_global_policy',
    stagedPolicy: '/Common/Shared/k8s_alpha_global_policy_staged',
  };

  test('as synthesized: nothing to report; a foreign attachment on a context we do not use is left alone', () => {
    expect(checkAttachments(own, global, [rd0(), { path: '/Common/5', id: 5, enforcedPolicy: '/Common/theirs' }])).toEqual([]);
  });

  test('missing, foreign in our place, and stale', () => {
    const problems = checkAttachments(own, { stagedPolicy: '/Common/theirs' }, [
      rd0({ stagedPolicy: undefined as unknown as string }),
      { path: '/Common/7', id: 7, stagedPolicy: '/Common/Shared/k8s_alpha_rd7_policy_staged' },
    ]);
    expect(problems.map((p) => [p.where, p.expected, p.found])).toEqual([
      ['global context enforced-policy', '/Common/Shared/k8s_alpha_global_policy', 'none'],
      [
        'global context staged-policy',
        '/Common/Shared/k8s_alpha_global_policy_staged',
        '/Common/theirs, a policy this deploy does not own',
      ],
      ['route domain /Common/0 fw-staged-policy', '/Common/Shared/k8s_alpha_rd0_policy_staged', 'none'],
      ['route domain /Common/7 fw-staged-policy', "none of this deploy's policies", '/Common/Shared/k8s_alpha_rd7_policy_staged (stale)'],
    ]);
    expect(problems[3].fix).toBe(
      'the synth output no longer attaches it; detach it (tmsh modify net route-domain /Common/7 fw-staged-policy none, then tmsh save sys config) so that AS3 can delete the policy, and run "cdktf deploy" again',
    );
  });

  test('route domains by path and by id', () => {
    expect(checkRouteDomains(own, [rd0()])).toEqual([]);
    expect(checkRouteDomains(own, [{ path: '/Common/rd_zero', id: 0 }]).map((p) => [p.where, p.found])).toEqual([
      ['route domain /Common/0', 'not on the device; it has /Common/rd_zero (id 0)'],
    ]);
    expect(checkRouteDomains(own, [{ path: '/Common/0', id: 3 }]).map((p) => p.where)).toEqual(['route domain id 0']);
  });
});

describe('checkLists', () => {
  const at = new Date('2030-01-01T00:00:00Z');
  const nodes = (m: Record<string, string[]>) =>
    new Map<string, string[] | undefined>(own.plan.lists.map((l) => [l.path, m[l.path] ?? [EMPTY_LIST_PLACEHOLDER]]));
  const cluster = { snapshot: CLUSTERS.alpha, source: 'state.yaml' };

  test('with cluster state: placeholder while pods belong is an error, other differences warnings, missing lists errors', () => {
    // The cluster rules match the pod CIDRs: no list of theirs to check.
    expect(own.plan.lists.map((l) => l.path)).toEqual([
      '/Common/Shared/k8s_alpha_src_ns_web',
      '/Common/Shared/k8s_alpha_src_svc_payments_checkout',
    ]);
    const lists = nodes({ '/Common/Shared/k8s_alpha_src_svc_payments_checkout': ['10.1.9.9'] });
    lists.set('/Common/Shared/k8s_alpha_src_ns_web', undefined);
    expect(checkLists(own, lists, cluster, at).map((p) => [p.severity, p.where, p.found])).toEqual([
      ['error', '/Common/Shared/k8s_alpha_src_ns_web', 'no such list on the device'],
      ['warning', '/Common/Shared/k8s_alpha_src_svc_payments_checkout', '1 missing (10.1.2.10), 1 not selected (10.1.9.9)'],
    ]);
    expect(checkLists(own, nodes({}), cluster, at).map((p) => [p.severity, p.where, p.found])).toEqual([
      ['error', '/Common/Shared/k8s_alpha_src_ns_web', "only AS3's placeholder ::1:5ee:bad:c0de: those pods are denied"],
      ['error', '/Common/Shared/k8s_alpha_src_svc_payments_checkout', "only AS3's placeholder ::1:5ee:bad:c0de: those pods are denied"],
    ]);
  });

  test('without cluster state: an active list with only the placeholder is a warning; a list whose pods are gone is fine with state', () => {
    expect(checkLists(own, nodes({}), undefined, at).map((p) => [p.severity, p.where])).toEqual(
      own.plan.lists.map((l) => ['warning', l.path]),
    );
    const empty = { snapshot: { ...CLUSTERS.alpha, pods: [] }, source: 'state.yaml' };
    expect(checkLists(own, nodes({}), empty, at)).toEqual([]);
  });

  test('a list outside its time window holds only the placeholder by design', () => {
    const windowed = { ...own, plan: { ...own.plan, lists: own.plan.lists.map((l) => ({ ...l, expiresAt: '2029-01-01T00:00:00Z' })) } };
    expect(checkLists(windowed, nodes({}), undefined, at)).toEqual([]);
  });
});

describe('verifyDevice over a scripted reader', () => {
  const device = (over: Partial<DeviceReader>): DeviceReader => ({
    url: 'https://bigip.test',
    storedDeclaration: async () => undefined,
    as3Tasks: async () => [],
    globalRules: async () => ({}),
    routeDomains: async () => [{ path: '/Common/0', id: 0 }],
    fqdnResolver: async () => undefined,
    listNodes: async () => [EMPTY_LIST_PLACEHOLDER],
    ...over,
  });

  test('a refused login is one problem, and nothing else is read', async () => {
    let reads = 0;
    const unauthorized = new BigipApiError({
      reason: 'Unauthorized',
      terminal: true,
      method: 'POST',
      path: '/mgmt/shared/authn/login',
      status: 401,
      deviceMessage: 'Authentication failed.',
    });
    const r = await verifyDevice(
      own,
      device({
        storedDeclaration: async () => Promise.reject(unauthorized),
        as3Tasks: async () => (reads++, []),
        listNodes: async () => (reads++, []),
      }),
    );
    expect(reads).toBe(0);
    expect(r.problems.filter((p) => p.severity === 'error').map((p) => [p.check, p.where, p.fix])).toEqual([
      [
        'device',
        'https://bigip.test: GET /mgmt/shared/appsvcs/declare',
        'check BIGIP_USER and BIGIP_PASSWORD; the user needs read access to AS3 and iControl REST and may run tmsh list',
      ],
    ]);
    expect(r.checked).toEqual(['saved tmsh changes']);
  });

  test('a read that fails skips its checks only', async () => {
    const r = await verifyDevice(
      own,
      device({
        routeDomains: async () =>
          Promise.reject(new DeviceAnswerError('"tmsh list net route-domain" failed on the device: Syntax Error: x')),
      }),
    );
    expect(r.checked).toEqual(['AS3 task results', 'stored declaration', '2 event-driven lists', 'saved tmsh changes']);
    expect(r.problems.filter((p) => p.check === 'device').map((p) => p.found)).toEqual([
      '"tmsh list net route-domain" failed on the device: Syntax Error: x',
    ]);
  });

  test('the report: shared problems once, a device line when it has no error, a summary; JSON the same', async () => {
    const reader = device({ storedDeclaration: async () => ({ class: 'ADC' }) });
    const results = await Promise.all(shared.map((d) => verifyDevice(d, reader)));
    const text = formatVerifyText(results);
    expect(text.match(/\[attachment\] [^:]+: global context enforced-policy/g)).toEqual([
      '[attachment] alpha/k8s_alpha: global context enforced-policy',
    ]);
    expect(text).toMatch(
      /\nverify: \d+ errors, \d+ warnings? \(2 devices on https:\/\/bigip\.test\)\nnote: the saved configuration is not read/,
    );
    const json = JSON.parse(formatVerifyJson(results));
    expect(json.ok).toBe(false);
    expect(json.devices).toEqual([
      { device: 'alpha/k8s_alpha', url: 'https://bigip.test', checked: expect.any(Array), ok: false },
      { device: 'beta/k8s_beta', url: 'https://bigip.test', checked: expect.any(Array), ok: false },
    ]);
    expect(json.errors).toBe(json.problems.filter((p: { severity: string }) => p.severity === 'error').length);
  });
});
