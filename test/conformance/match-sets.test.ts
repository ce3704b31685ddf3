/**
 * No rendered rule matches more than its model: for random sets of rules on one device (and
 * several devices on one BIG-IP), every AFM rule in the declaration is resolved through its
 * address and port lists, and each address, FQDN and port it matches must be one its policy
 * rule lists. With a digest weakened to 4 bits, names collide all the time: compilation must
 * then fail with both rules' paths, never merge their objects.
 *
 * The resolution here is written independently of the renderer's own self-check.
 */
import fc from 'fast-check';
import { As3Object, mergeAs3, renderAs3, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { OBJECT, contentDigest, sharedItemName } from '../../lib/policy/object-names';
import { CompileOptions, CompiledPolicy, compilePolicy } from '../../lib/policy/compile';
import { EgressPolicyError } from '../../lib/policy/errors';
import { withRouteDomain } from '../../lib/policy/ip';
import { PolicyModel, RuleModel, SelectorModel, isEmptySelector, ruleKey } from '../../lib/policy/model';
import { limitPolicyArb, limitSharedArb, policyArb } from '../support/arbitraries';

type Obj = Record<string, any>;

/** 16 buckets: two different contents share a digest one time in 16. */
const WEAK: CompileOptions = { digest: (text) => contentDigest(text)[0].repeat(16) };

function resolve(adc: Obj, pointer: { use: string }, tenant: string, app: string): { path: string; obj: Obj } {
  const [t, a, item] = pointer.use.startsWith('/') ? pointer.use.split('/').slice(1) : [tenant, app, pointer.use];
  const obj = adc[t]?.[a]?.[item];
  if (!obj) throw new Error(`pointer ${pointer.use} from /${tenant}/${app} does not resolve`);
  return { path: `/${t}/${a}/${item}`, obj };
}

const lookup = (adc: Obj, pointer: { use: string }, tenant: string, app: string) => resolve(adc, pointer, tenant, app).obj;

/** What a policy rule may match: destination entries, and per protocol the ports (undefined = all). */
function allowed(rule: RuleModel, model: PolicyModel): { entries: Set<string>; ports: Map<string, [number, number][] | undefined> } {
  const rd = model.device.routeDomain;
  const entries = new Set<string>();
  const add = (d: RuleModel['destinations'][number]) => {
    if (d.kind === 'fqdn') entries.add(`fqdn ${d.text}`);
    else if (d.kind === 'externalService') model.externalServices.find((es) => es.name === d.name)?.destinations.forEach(add);
    else entries.add(`address ${withRouteDomain(d.text, rd)}`);
  };
  rule.destinations.forEach(add);
  const ports = new Map<string, [number, number][] | undefined>();
  if (rule.ports.length === 0) ports.set('any', undefined);
  for (const p of rule.ports) {
    const prev = ports.has(p.protocol) ? ports.get(p.protocol) : [];
    ports.set(p.protocol, prev === undefined || p.fromPort === undefined ? undefined : [...prev, [p.fromPort, p.toPort ?? p.fromPort]]);
  }
  return { entries, ports };
}

/** Same pods at the same times: equal source (an empty selector is no selector) and window. */
function sameSource(a: RuleModel, b: RuleModel): boolean {
  const norm = (s: SelectorModel | undefined) => (isEmptySelector(s) ? null : s);
  const key = (r: RuleModel) =>
    JSON.stringify([
      r.source.level,
      r.source.namespace ?? null,
      r.source.service ?? null,
      norm(r.source.namespaceSelector),
      norm(r.source.podSelector),
      r.schedule ?? null,
      r.expiresAt ?? null,
    ]);
  return key(a) === key(b);
}

/** Checks every AFM rule of every rule list of `adc` that belongs to one of `devices`; returns how many. */
function checkMatchSets(adc: Obj, devices: readonly CompiledPolicy[]): number {
  let checked = 0;
  for (const compiled of devices) {
    const { tenant, application } = compiled.model.device;
    const byEntry = new Map<string, RuleModel>();
    const sourceLists = new Map(compiled.sourceLists.map((l) => [l.path, l.rules]));
    const rulesByKey = new Map(compiled.model.rules.map((r) => [ruleKey(r), r]));
    for (const level of ['cluster', 'namespace', 'service'] as const)
      for (const r of compiled.levels[level]) for (const e of r.entries) byEntry.set(e.name, r.model);
    // The device's rule lists (tenants may be prefixes of one another: no prefix matching).
    const staged = (name: string) => [name, name + OBJECT.staged];
    const lists: [string, string, Obj][] = [
      ...[OBJECT.clusterRules, OBJECT.namespaceRules, OBJECT.carriedAllow]
        .flatMap(staged)
        .map((n) => ['Common', 'Shared', adc.Common?.Shared?.[sharedItemName(tenant, n)]] as [string, string, Obj]),
      ...staged(OBJECT.serviceRules).map((n) => [tenant, application, adc[tenant]?.[application]?.[n]] as [string, string, Obj]),
    ];
    for (const [t, a, list] of lists) {
      if (list?.class !== 'Firewall_Rule_List') continue;
      for (const afm of list.rules as Obj[]) {
        const rule = byEntry.get(afm.name);
        if (!rule) throw new Error(`AFM rule ${afm.name} stands for no rule of ${tenant}`);
        const may = allowed(rule, compiled.model);
        const at = `${rule.path}: AFM rule ${afm.name}`;
        if (!may.ports.has(afm.protocol))
          throw new Error(`${at} matches protocol ${afm.protocol}, not one of ${[...may.ports.keys()].join(', ')}`);
        const addressLists = afm.destination?.addressLists as { use: string }[] | undefined;
        if (!addressLists?.length) throw new Error(`${at} matches every destination`);
        for (const pointer of addressLists) {
          const dst = lookup(adc, pointer, t, a);
          for (const address of dst.addresses ?? [])
            if (!may.entries.has(`address ${address}`))
              throw new Error(`${at} matches ${JSON.stringify(address)}, which ${rule.path} does not list`);
          for (const fqdn of dst.fqdns ?? [])
            if (!may.entries.has(`fqdn ${fqdn}`)) throw new Error(`${at} matches ${fqdn}, which ${rule.path} does not list`);
        }
        const ranges = may.ports.get(afm.protocol);
        const portLists = afm.destination?.portLists as { use: string }[] | undefined;
        if (ranges !== undefined) {
          if (!portLists?.length) throw new Error(`${at} matches every ${afm.protocol} port`);
          for (const pointer of portLists) {
            for (const p of lookup(adc, pointer, t, a).ports as (number | string)[]) {
              const [from, to] = String(p).split('-').map(Number);
              if (!ranges.some(([lo, hi]) => lo <= from && (to ?? from) <= hi))
                throw new Error(`${at} matches ${afm.protocol} port ${p}, which ${rule.path} does not list`);
            }
          }
        }
        // The source: a list the controller fills for this rule (and only rules of the same source and window).
        const top = resolve(adc, afm.source.addressLists[0], t, a);
        // A cluster DENY, REJECT or ALLOW_FINAL over every pod, always in force, may match the pod
        // CIDRs themselves (and nothing more); every other source is a list the controller fills.
        if (Array.isArray(top.obj.addresses) && top.obj.addresses.every((x: unknown) => typeof x === 'string')) {
          const everyPod =
            rule.level === 'cluster' &&
            rule.action !== 'ALLOW' &&
            isEmptySelector(rule.source.namespaceSelector) &&
            isEmptySelector(rule.source.podSelector) &&
            !rule.schedule &&
            !rule.expiresAt;
          const podCidrs = compiled.model.device.podCidrs.map((c) => withRouteDomain(c.text, compiled.model.device.routeDomain));
          if (
            !everyPod ||
            podCidrs.length === 0 ||
            JSON.stringify([...top.obj.addresses].sort()) !== JSON.stringify([...podCidrs].sort())
          ) {
            throw new Error(`${at} takes its source from ${top.path}, which lists ${JSON.stringify(top.obj.addresses)}`);
          }
          checked++;
          continue;
        }
        const source = top;
        if (
          JSON.stringify(source.obj.addresses) !== '[{"addressDiscovery":"event"}]' ||
          Object.keys(source.obj).some((k) => !['class', 'remark', 'addresses'].includes(k))
        ) {
          throw new Error(`${at} takes its source from ${source.path}, a list the controller does not fill`);
        }
        const filledFor = sourceLists.get(source.path);
        if (!filledFor?.includes(ruleKey(rule)))
          throw new Error(`${at} takes its source from ${source.path}, which the controller fills for ${filledFor?.join(', ')}`);
        for (const other of filledFor) {
          const o = rulesByKey.get(other) as RuleModel;
          if (
            JSON.stringify([o.source, o.schedule, o.expiresAt]) !== JSON.stringify([rule.source, rule.schedule, rule.expiresAt]) &&
            !sameSource(o, rule)
          ) {
            throw new Error(`${at} shares ${source.path} with ${other}, whose pods or window differ`);
          }
        }
        checked++;
      }
    }
  }
  return checked;
}

/** Compiles and renders, or the collision error; checks the error names two rules. */
function renderOrCollision(render: () => { adc: Obj; devices: CompiledPolicy[] }): number {
  try {
    const { adc, devices } = render();
    return checkMatchSets(adc, devices);
  } catch (e) {
    if (!(e instanceof EgressPolicyError)) throw e;
    for (const issue of e.issues) {
      expect(issue.message).toMatch(/would stand both for .* of (\S+) and for .* of (\S+);/);
      const [, first, second] = /of (\S+) and for .* of (\S+);/.exec(issue.message)!;
      expect(first).not.toBe(second);
    }
    return 0;
  }
}

describe('no rendered rule matches more than its model', () => {
  test.each([
    ['64-bit digests', {} as CompileOptions],
    ['a 4-bit digest (collisions everywhere)', WEAK],
  ])('random rule sets on one device, %s', (_name, options) => {
    let checked = 0;
    let collisions = 0;
    fc.assert(
      fc.property(fc.oneof(policyArb({ maxRules: 5 }), limitPolicyArb({ maxRules: 5 })), (policy) => {
        const n = renderOrCollision(() => {
          const compiled = compilePolicy(policy, options);
          return { adc: (renderAs3(compiled) as Obj).declaration, devices: [compiled] };
        });
        if (n === 0) collisions++;
        checked += n;
      }),
      { numRuns: 400 },
    );
    expect(checked).toBeGreaterThan(1000);
    if (options === WEAK) expect(collisions).toBeGreaterThan(20);
  });

  test('several clusters on one shared BIG-IP', () => {
    let checked = 0;
    fc.assert(
      fc.property(limitSharedArb(4), fc.boolean(), (policies, weak) => {
        checked += renderOrCollision(() => {
          const devices = policies.map((p) => compilePolicy(p, weak ? WEAK : {}));
          const merged = mergeAs3([renderSharedAs3('dc1', devices), ...devices.map(renderTenantAs3)]);
          return { adc: merged.declaration as As3Object, devices };
        });
      }),
      { numRuns: 80 },
    );
    expect(checked).toBeGreaterThan(300);
  });
});
