/**
 * Per-rule source translation as an AFM NAT policy on the egress virtual server.
 *
 * Rendered only when a rule has `snat`. The tenant's application gets:
 * - `nat_policy` (`NAT_Policy`): one NAT rule per AFM rule of each rule with `snat`, matching
 *   the same source list, destination lists, port list and protocol as that AFM rule, in
 *   evaluation order (cluster, namespace, service rules, each level in rule order); then, when
 *   the device translates to a pool, a last rule `default` that matches everything else and
 *   translates to the device's pool. With device snat none there is no last rule.
 * - `nat_src_<digest>` (`NAT_Source_Translation`, `dynamic-pat`): one per distinct address set.
 *   Addresses carry the route domain like every other address (AS3 does not add the tenant's
 *   default route domain to them: AS3 `src/lib/map_as3.js:3837-3890`).
 * - `nat_log_profile` (`Security_Log_Profile` with a `nat` section), when a rule with `snat`
 *   logs: set on that rule's NAT rules only, so the virtual server's own profile is unchanged.
 * The virtual server points at the policy (`policyNAT`, which AS3 maps to the virtual's
 * `security-nat-policy`, `src/lib/map_as3.js:2499-2502`) and its own `snat` becomes `none`, as in
 * F5's NAT example
 * (examples/declarations/example-using-firewall-nat-features.json): whether a virtual server's
 * snat applies beside a NAT policy is not documented, so nothing relies on it.
 *
 * Pointers to translations and profiles are always `use`: AS3's NAT_Policy mapper reads only
 * `sourceTranslation.use` (`src/lib/map_as3.js:3824-3835`).
 */
import type { CompiledPolicy, CompiledRule } from '../policy/compile';
import { EgressPolicyError, quote } from '../policy/errors';
import { withRouteDomain } from '../policy/ip';
import type { AddressModel, DeviceModel } from '../policy/model';
import { LEVELS } from '../policy/model';
import { OBJECT, contentDigest } from '../policy/object-names';

/** Names of the NAT objects in the tenant's application. */
export const NAT_OBJECT = {
  policy: 'nat_policy',
  logProfile: 'nat_log_profile',
  /** Prefix of a source translation; a digest of its addresses follows. */
  translation: 'nat_src_',
  /** The NAT policy's last rule: the device's own translation. */
  defaultRule: 'default',
} as const;

/**
 * Fields of each NAT log line, in order (AS3 `Security_Log_Profile_Nat_Storage_Format`). AS3 sets
 * them as the profile's `format <event> { type field-list field-list { ... } }` with `-` written
 * `_` (`src/lib/map_as3.js:3526-3546, 3638-3646`; `src/lib/properties.json:1602-1675`).
 */
export const NAT_LOG_FIELDS: readonly string[] = Object.freeze([
  'event-name',
  'timestamp',
  'context-name',
  'route-domain',
  'protocol',
  'src-ip',
  'src-port',
  'translated-src-ip',
  'translated-src-port',
  'dest-ip',
  'dest-port',
  'translated-route-domain',
]);

/** Delimiter of the NAT log fields. */
export const NAT_LOG_DELIMITER = ',';

type As3Object = Record<string, unknown>;

/** The rules whose NAT rules the policy holds, in evaluation order. */
export function natRules(compiled: CompiledPolicy): readonly CompiledRule[] {
  return LEVELS.flatMap((level) => compiled.levels[level].filter((r) => r.model.snat));
}

/** Item name of the source translation of these addresses. */
export function translationName(addresses: readonly AddressModel[]): string {
  const texts = addresses.map((a) => a.text).sort();
  return `${NAT_OBJECT.translation}${contentDigest(texts.join(','))}`;
}

/**
 * The NAT objects of a device, put into its tenant's application, and the virtual server's
 * `policyNAT`; undefined when no rule has `snat`. `reference` is how the tenant points into
 * /Common/Shared: `use` in the one declaration of a device that owns its BIG-IP, `bigip` in the
 * tenant declaration of a SharedBigip, where per-rule translation is refused.
 */
export function natObjects(
  compiled: CompiledPolicy,
  reference: 'use' | 'bigip',
  put: (name: string, obj: As3Object) => void,
): As3Object | undefined {
  const rules = natRules(compiled);
  if (rules.length === 0) return undefined;
  const { device } = compiled.model;
  if (reference === 'bigip') {
    // The tenant of a SharedBigip is its own declaration, deployed after the shared one. Its NAT
    // rules would point at lists of the shared declaration, whose final Common pass deletes a
    // list a removed rule no longer needs while the tenant's NAT policy still uses it: mcpd
    // refuses, and terraform apply does not report it (the firewall policies avoid this by
    // pointing into /Common/Shared only at objects that live as long as the device).
    throw new EgressPolicyError(
      rules.map((r) => ({
        path: r.model.path,
        field: 'snat',
        value: `EgressSnat.pool(${quote((r.model.snat?.addresses ?? []).map((a) => a.text))})`,
        message:
          "per-rule translation is not supported on a SharedBigip: the tenant's NAT policy would use lists of the shared declaration, which deletes a list a changed rule no longer needs before the tenant stops using it; give the device its own BIG-IP connection, or leave snat out (the device's snat applies)",
      })),
    );
  }
  const shared = (path: string) => ({ [reference]: path });
  const translations = new Map<string, readonly AddressModel[]>();
  const translation = (addresses: readonly AddressModel[]) => {
    const name = translationName(addresses);
    translations.set(
      name,
      [...addresses].sort((a, b) => a.family - b.family || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)),
    );
    return { use: name };
  };
  const natRuleList: As3Object[] = [];
  for (const rule of rules) {
    const snat = rule.model.snat as NonNullable<typeof rule.model.snat>;
    for (const entry of rule.entries) {
      const destination: As3Object = { addressLists: rule.destinationLists.map(shared) };
      if (entry.portList) destination.portLists = [shared(entry.portList)];
      natRuleList.push({
        name: entry.name,
        protocol: entry.protocol,
        source: { addressLists: [shared(rule.sourceList)] },
        destination,
        sourceTranslation: translation(snat.addresses),
        ...(rule.model.logging ? { securityLogProfile: { use: NAT_OBJECT.logProfile } } : {}),
      });
    }
  }
  if (device.snat === 'POOL') {
    natRuleList.push({ name: NAT_OBJECT.defaultRule, protocol: 'any', sourceTranslation: translation(device.snatAddresses) });
  }
  for (const [name, addresses] of [...translations].sort(([a], [b]) => (a < b ? -1 : 1))) {
    put(name, {
      class: 'NAT_Source_Translation',
      remark: clip(`translation to ${addresses.map((a) => a.text).join(', ')}`),
      type: 'dynamic-pat',
      patMode: 'napt',
      addresses: addresses.map((a) => address(device, a)),
    });
  }
  if (rules.some((r) => r.model.logging)) put(NAT_OBJECT.logProfile, natLogProfile());
  put(NAT_OBJECT.policy, {
    class: 'NAT_Policy',
    remark: clip(`source translation per rule of ${device.cluster}`),
    rules: natRuleList,
  });
  return { use: NAT_OBJECT.policy };
}

/**
 * NAT events of the rules that log: outbound session start and end, errors and exceeded
 * quotas, through the device's log publisher, each as the {@link NAT_LOG_FIELDS} list.
 */
function natLogProfile(): As3Object {
  const format = { fields: [...NAT_LOG_FIELDS], delimiter: NAT_LOG_DELIMITER };
  return {
    class: 'Security_Log_Profile',
    remark: 'NAT events of the rules with snat and logging',
    nat: {
      publisher: { use: OBJECT.logPublisher },
      logErrors: true,
      logQuotaExceeded: true,
      logStartOutboundSession: true,
      logEndOutboundSession: true,
      formatErrors: format,
      formatQuotaExceeded: format,
      formatStartOutboundSession: format,
      formatEndOutboundSession: format,
    },
  };
}

function address(device: DeviceModel, a: AddressModel): string {
  return withRouteDomain(a.text, device.routeDomain);
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 61)}...`;
}
