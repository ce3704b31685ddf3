/**
 * BIG-IP object names and paths.
 *
 * Names are derived from what an object *is* (its selector, its content, its rule key), never
 * from its position, so adding an unrelated rule renames nothing. Objects that a policy in
 * `/Common/Shared` must reference (global and route-domain contexts) live there, prefixed
 * with the tenant so that several clusters can share one BIG-IP.
 *
 * A name either spells out what it stands for or carries a 64-bit content digest; names that
 * would not fit AS3's limits keep a readable head and end in the digest of the whole readable
 * name. Either way the compiler compares every reused name with the content behind it, so even
 * a deliberate digest collision fails synth instead of merging two rules' objects.
 */
import { createHash } from 'node:crypto';
import type { DeviceModel, RuleModel } from './model';
import { AS3_ITEM_NAME, AS3_PATH_MAX } from './names';

export const COMMON = 'Common';
export const SHARED = 'Shared';

/** Names of the fixed objects of a declaration. */
export const OBJECT = {
  clusterRules: 'cluster_rules',
  namespaceRules: 'namespace_rules',
  carriedAllow: 'carried_allow',
  globalPolicy: 'global_policy',
  serviceRules: 'service_rules',
  virtualPolicy: 'vs_policy',
  /** Suffix of the staged counterpart of a rule list or policy. */
  staged: '_staged',
  gatewayPool: 'gateway_pool',
  virtualServer: 'egress_vs',
  snatPool: 'snat_pool',
  defaultRule: 'default',
  logPool: 'log_pool',
  logHsl: 'log_hsl',
  logSyslog: 'log_syslog',
  logPublisher: 'log_publisher',
  logProfile: 'log_profile',
} as const;

/** `rd<id>_policy`: the policy of a route domain's context. */
export function routeDomainPolicyName(routeDomain: number): string {
  return `rd${routeDomain}_policy`;
}

/**
 * BIG-IP path of a device's route domain: tmsh and AS3 name route domains by path, addresses
 * (`10.0.0.1%2`) by id. Without a configured name it is `/Common/<id>`, the name BIG-IP gives a
 * route domain created with only an id.
 */
export function routeDomainPath(device: Pick<DeviceModel, 'routeDomain' | 'routeDomainPath'>): string {
  return device.routeDomainPath ?? `/${COMMON}/${device.routeDomain}`;
}

/** Suffix of the iRule that attaches a rule's bandwidth policy (`bwc_<rule>_attach`). */
export const BANDWIDTH_IRULE_SUFFIX = '_attach';

/** Prefix of the iRule that runs a rule's onMatch code (`irule_<rule>`). */
export const ONMATCH_IRULE_PREFIX = 'irule_';

/** Hex digits of a content digest in an object name: 64 bits of SHA-256. */
export const DIGEST_HEX_DIGITS = 16;

/** Digest of the content an object name stands for: {@link DIGEST_HEX_DIGITS} hex digits. */
export type Digest = (text: string) => string;

/** 64 bits of SHA-256, as hex: the digest in object names. */
export function contentDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, DIGEST_HEX_DIGITS);
}

/**
 * The digest in the name of a list whose members the declaration itself carries (destination
 * and port lists), in uppercase hex. cdktf takes every `<digit>e<digit>` in a string for a
 * possible encoded number: on each of its three resolutions of the declaration it splits the
 * string there and joins the pieces again pair by pair (cdktf/lib/tokens/string-fragments.js
 * `join`). A third of lowercase 16-digit digests hold one; at 10,000 rules that cost 0.35–0.65 s
 * of synth (docs/benchmarks.md). Lists the controller fills keep lowercase names: renaming one
 * leaves it empty on the device until the controller pushes to it, and a DENY rule that matches
 * its pods would not deny meanwhile.
 */
export function declaredListDigest(digest: Digest, text: string): string {
  return digest(text).toUpperCase();
}

/**
 * First 8 hex digits of SHA-256: a short suffix that keeps generated Kubernetes names readable.
 * Too short to identify content; BIG-IP object names use {@link contentDigest}.
 */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** Protocol names as they may appear inside object names (`a/n` → `a_n`, `tp++` → `tppp`). */
export function protocolToken(protocol: string): string {
  return protocol.replace(/\//g, '_').replace(/\+/g, 'p');
}

/** Where an object lives in the declaration. */
export type Placement = 'shared' | 'tenant';

/** `/Common/Shared/<tenant>_<name>` or `/<tenant>/<app>/<name>`. */
export function objectPath(tenant: string, application: string, placement: Placement, name: string): string {
  return placement === 'shared' ? `/${COMMON}/${SHARED}/${sharedItemName(tenant, name)}` : `/${tenant}/${application}/${name}`;
}

export function sharedItemName(tenant: string, name: string): string {
  return `${tenant}_${name}`;
}

/** Longest AS3 item name: the item-name pattern allows 190 characters. */
const ITEM_NAME_MAX = 190;

/**
 * Longest name an object of `placement` may have so that its item name and its full path
 * (`/Common/Shared/<tenant>_<name>` or `/<tenant>/<app>/<name>`) stay within AS3's limits.
 * At the longest tenant and application (48 characters each) this is 131 in /Common/Shared and
 * 96 in the tenant.
 */
export function nameBudget(tenant: string, application: string, placement: Placement): number {
  if (placement === 'shared') {
    const prefix = `/${COMMON}/${SHARED}/${sharedItemName(tenant, '')}`;
    return Math.min(ITEM_NAME_MAX - tenant.length - 1, AS3_PATH_MAX - prefix.length);
  }
  return Math.min(ITEM_NAME_MAX, AS3_PATH_MAX - `/${tenant}/${application}/`.length);
}

/**
 * `readable` when it has at most `budget` characters; otherwise its head and the digest of the
 * whole readable name (`src_svc_<namespace>_<serv…>_<digest>`), exactly `budget` characters or
 * fewer. The readable name spells out its content, so the digest still identifies it.
 */
export function fitName(readable: string, budget: number, digest: Digest): string {
  if (readable.length <= budget) return readable;
  const head = readable.slice(0, Math.max(1, budget - DIGEST_HEX_DIGITS - 1)).replace(/[-_.]+$/, '');
  return `${head}_${digest(readable)}`;
}

/** `c_<name>`, `n_<namespace>_<name>` or `s_<namespace>_<name>`: what the names of a rule's objects start with. */
export function ruleBaseName(rule: Pick<RuleModel, 'level' | 'namespace' | 'name'>): string {
  return rule.level === 'cluster' ? `c_${rule.name}` : `${rule.level === 'namespace' ? 'n' : 's'}_${rule.namespace}_${rule.name}`;
}

/**
 * Name of the AFM rule that enforces `rule` for one protocol: `<base>_<protocol>`, with the base
 * shortened to a head and a digest when the name would exceed the tenant's name budget.
 * AFM rule names have no pattern in AS3; keeping them within the budget of a tenant item keeps
 * them valid wherever the rule lists live.
 */
export function afmRuleName(
  device: Pick<DeviceModel, 'tenant' | 'application'>,
  rule: Pick<RuleModel, 'level' | 'namespace' | 'name'>,
  protocol: string,
  digest: Digest = contentDigest,
): string {
  const token = protocolToken(protocol);
  const budget = nameBudget(device.tenant, device.application, 'tenant');
  return `${fitName(ruleBaseName(rule), budget - token.length - 1, digest)}_${token}`;
}

/** AS3 service-discovery task id of an event-driven list: `~Common~Shared~name`. */
export function serviceDiscoveryTaskId(path: string): string {
  return path.replace(/\//g, '~');
}

/** Why an AS3 item name or its full path breaks AS3's rules, or undefined when it is fine. */
export function itemNameProblem(path: string): string | undefined {
  const item = path.slice(path.lastIndexOf('/') + 1);
  if (!AS3_ITEM_NAME.test(item)) {
    return `BIG-IP object name "${item}" is not a valid AS3 item name (letters, digits, "_", ".", "-"; at most 190)`;
  }
  if (path.length > AS3_PATH_MAX) {
    return `BIG-IP object path "${path}" is ${path.length} characters; AS3 allows at most ${AS3_PATH_MAX}`;
  }
  return undefined;
}
