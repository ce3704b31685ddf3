/**
 * What a BIG-IP must hold beyond the AS3 declarations, for one owner of its global context (an
 * AfmDevice that owns its BIG-IP, or a SharedBigip): the policy attachments of the global and
 * route-domain contexts, the global FQDN resolver, the tmsh commands that set them, and the
 * checks that keep them from taking over what another owner attached.
 *
 * AS3 sets the enforced policy of a route domain (`routeDomainEnforcement`) and nothing else of
 * the contexts, so the rest goes through tmsh (`bigip_command`). Every attachment is fixed from
 * the first deploy on: each context always has an enforced and a staged policy whose paths
 * depend only on the owner and the route domains, never on the rules (AS3 cannot detach what
 * tmsh attached, and mcpd refuses to delete an attached policy). `bigip_command` reports
 * success whatever tmsh prints (go-bigip `sys.go` RunCommand fails only on HTTP errors), so
 * the constructs check the command output and the ownership with Terraform conditions, and
 * verification compares the device with {@link expectedDeviceState}.
 *
 * Pure: the same compiled policies give the same state, commands and checks.
 */
import type { CompiledPolicy } from '../policy/compile';
import { compareText } from '../policy/compile';
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import { COMMON, OBJECT, SHARED, routeDomainPath, routeDomainPolicyName, sharedItemName } from '../policy/object-names';
import { namespaceRouteDomains } from '../policy/route-domains';

/**
 * Adds the route domains of the devices' mapped namespaces to `paths` (after every device's
 * own). A mapped route domain holds its namespace alone: another device's route domain, or
 * another namespace on it, would read two networks with overlapping addresses as one.
 */
function mappedRouteDomainIssues(
  devices: readonly CompiledPolicy[],
  paths: Map<number, { path: string; device: string; mapped?: string }>,
): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  for (const d of devices) {
    const { device } = d.model;
    namespaceRouteDomains(device).forEach((m, i) => {
      const rdPath = m.routeDomainPath ?? `/${COMMON}/${m.routeDomain}`;
      const other = paths.get(m.routeDomain);
      const sameName = [...paths.entries()].find(([id, p]) => p.path === rdPath && id !== m.routeDomain);
      if (other) {
        issues.push({
          path: device.path,
          field: `namespaceRouteDomains[${i}].routeDomain`,
          value: String(m.routeDomain),
          message: `route domain ${m.routeDomain} is already ${other.mapped ? `the route domain of namespace "${other.mapped}" of` : 'the route domain of'} ${other.device}; a mapped route domain is its namespace's alone: give namespace "${m.namespace}" a route domain of its own`,
        });
      } else if (sameName) {
        issues.push({
          path: device.path,
          field: `namespaceRouteDomains[${i}].routeDomainName`,
          value: quote(rdPath),
          message: `${rdPath} has id ${sameName[0]} for ${sameName[1].device}; one route domain has one id`,
        });
      } else {
        paths.set(m.routeDomain, { path: rdPath, device: device.path, mapped: m.namespace });
      }
    });
  }
  return issues;
}

/**
 * The route domains of the devices on one BIG-IP, by id, with their paths: each id is one route
 * domain with one path, so devices that name one route domain differently fail.
 */
export function routeDomainPaths(owner: string, devices: readonly CompiledPolicy[]): Map<number, string> {
  const paths = new Map<number, { path: string; device: string; mapped?: string }>();
  const issues: PolicyIssue[] = [];
  const ordered = [...devices].sort(
    (a, b) => a.model.device.routeDomain - b.model.device.routeDomain || compareText(a.model.device.tenant, b.model.device.tenant),
  );
  for (const d of ordered) {
    const { device } = d.model;
    const rdPath = routeDomainPath(device);
    const other = paths.get(device.routeDomain);
    const sameName = [...paths.entries()].find(([id, p]) => p.path === rdPath && id !== device.routeDomain);
    if (other && other.path !== rdPath) {
      issues.push({
        path: device.path,
        field: 'routeDomainName',
        value: quote(rdPath),
        message: `route domain ${device.routeDomain} on this BIG-IP is ${other.path} for ${other.device}; one route domain has one name: give both devices the same routeDomainName`,
      });
    } else if (sameName) {
      issues.push({
        path: device.path,
        field: 'routeDomain',
        value: String(device.routeDomain),
        message: `${rdPath} has id ${sameName[0]} for ${sameName[1].device}; one route domain has one id: give both devices the same routeDomain`,
      });
    } else if (!other) {
      paths.set(device.routeDomain, { path: rdPath, device: device.path });
    }
  }
  issues.push(...mappedRouteDomainIssues(ordered, paths));
  if (issues.length) throw new EgressPolicyError(issues.map((i) => ({ ...i, message: `${i.message} (BIG-IP shared as ${owner})` })));
  return new Map([...paths].map(([id, p]) => [id, p.path]));
}

/** The two policies of a firewall context. */
export interface ContextAttachment {
  readonly enforcedPolicy: string;
  readonly stagedPolicy: string;
}

/** A route domain's context, as one owner attaches it. */
export interface RouteDomainAttachment extends ContextAttachment {
  /** Route-domain id (addresses name it: `10.0.0.1%2`). */
  readonly id: number;
  /** BIG-IP path (tmsh and AS3 name it: `/Common/2`, `/Common/rd_prod`). */
  readonly path: string;
}

/** Which step an ownership check guards: the step refuses to run when the check fails. */
export type GuardedStep = 'resolver' | 'declaration' | 'contexts';

/**
 * One attribute of the device that this owner sets, read before it sets it: the step may run
 * only when the attribute is unset, `none`, or already one of this owner's values.
 */
export interface OwnershipCheck {
  /** Index of the read command (in {@link DeviceCommands.read}) whose output holds the attribute. */
  readonly read: number;
  /**
   * Regular expression (RE2 and JavaScript read it alike) whose one capture group is the
   * attribute's value in the `tmsh list` output; no match means the attribute is unset.
   */
  readonly pattern: string;
  /** Values that are this owner's (`none`, and each of its paths as `tmsh list` may print it). */
  readonly allowed: readonly string[];
  /** What the attribute is, for messages: `the enforced policy of the global context`. */
  readonly what: string;
  readonly guards: GuardedStep;
}

/** The tmsh commands of one owner, in the order they run. */
export interface DeviceCommands {
  /** Read-only `tmsh list` of every context and setting the owner writes; runs first. */
  readonly read: readonly string[];
  /**
   * Sets the global FQDN resolver and saves the configuration; runs before the declaration, so
   * that FQDN address lists never exist without a resolver. Empty without a resolver.
   */
  readonly resolver: readonly string[];
  /**
   * Attaches the global context's policies and each route domain's staged policy, then saves the
   * configuration (tmsh changes are otherwise lost at the next reboot or config load); runs
   * after the declaration, which creates the policies.
   */
  readonly contexts: readonly string[];
  /** Detaches the global context's policies, then saves; runs on destroy, before the declaration is deleted. */
  readonly release: readonly string[];
  /**
   * Releases the resolver, then saves: runs when the owner stops using this resolver (another
   * one, none, or destroy), before the contexts are read again.
   */
  readonly releaseResolver: readonly string[];
  /**
   * Detaches a route domain's staged policy, then saves, by route-domain id: runs when the owner
   * stops using the route domain (or is destroyed), before the declaration deletes the policy.
   */
  readonly releaseRouteDomains: Readonly<Record<number, readonly string[]>>;
}

/** What the device must hold for one owner, beyond its AS3 declarations. */
export interface DeviceState {
  /** Prefix of the owner's context policies in /Common/Shared: the tenant, or the SharedBigip's name. */
  readonly owner: string;
  readonly global: ContextAttachment;
  /** Route domains in use, by id; the enforced policy is set by AS3, the staged one by tmsh. */
  readonly routeDomains: readonly RouteDomainAttachment[];
  /** Path of the global FQDN policy's DNS resolver, when the owner sets one. */
  readonly dnsResolver?: string;
  readonly commands: DeviceCommands;
  readonly checks: readonly OwnershipCheck[];
}

/**
 * A line of tmsh output that reports an error: mcpd's `01020036:3: ...` (8 hex digits, a
 * severity) or the parser's `Syntax Error:` and `Data Input Error:`. tmsh prints them into the
 * command output, which `/mgmt/tm/util/bash` answers with 200 (F5's Ansible modules look for
 * the same texts there). RE2 and JavaScript read the pattern alike.
 */
export const TMSH_ERROR_PATTERN = '(?:^|\\n)\\s*(?:[Ss]yntax [Ee]rror|[Dd]ata [Ii]nput [Ee]rror|[0-9a-fA-F]{8}:[0-9]:)';

/** The command outputs that report a tmsh error, with their index. */
export function tmshErrors(outputs: readonly string[]): { index: number; output: string }[] {
  const error = new RegExp(TMSH_ERROR_PATTERN);
  return outputs.flatMap((output, index) => (error.test(output) ? [{ index, output }] : []));
}

const SAVE = 'save sys config';

/** A path as `tmsh list` may print it from the default folder /Common: absolute, or relative to it. */
function printed(path: string): string[] {
  const prefix = `/${COMMON}/`;
  return path.startsWith(prefix) ? [path, path.slice(prefix.length)] : [path];
}

/** `(?:^|\s)<attribute>\s+(\S+)`: an attribute line of `tmsh list`, not the tail of a longer name. */
function attributePattern(attribute: string): string {
  return `(?:^|\\s)${attribute.replace(/[-.]/g, (c) => `\\${c}`)}\\s+(\\S+)`;
}

/**
 * The expected device state of `owner` with `devices` attached (one device for an AfmDevice
 * that owns its BIG-IP) and the resolver it sets. Throws the route-domain naming problems of
 * {@link routeDomainPaths}.
 */
export function expectedDeviceState(owner: string, devices: readonly CompiledPolicy[], dnsResolver?: string): DeviceState {
  const policy = (name: string) => `/${COMMON}/${SHARED}/${sharedItemName(owner, name)}`;
  const global = { enforcedPolicy: policy(OBJECT.globalPolicy), stagedPolicy: policy(OBJECT.globalPolicy + OBJECT.staged) };
  const routeDomains = [...routeDomainPaths(owner, devices)].map(([id, path]) => ({
    id,
    path,
    enforcedPolicy: policy(routeDomainPolicyName(id)),
    stagedPolicy: policy(routeDomainPolicyName(id) + OBJECT.staged),
  }));

  const read = ['list security firewall global-rules', ...routeDomains.map((rd) => `list net route-domain ${rd.path}`)];
  const checks: OwnershipCheck[] = [
    {
      read: 0,
      pattern: attributePattern('enforced-policy'),
      allowed: ['none', ...printed(global.enforcedPolicy)],
      what: 'the enforced policy of the global context',
      guards: 'contexts',
    },
    {
      read: 0,
      pattern: attributePattern('staged-policy'),
      allowed: ['none', ...printed(global.stagedPolicy)],
      what: 'the staged policy of the global context',
      guards: 'contexts',
    },
  ];
  routeDomains.forEach((rd, i) => {
    checks.push(
      {
        read: i + 1,
        pattern: attributePattern('id'),
        allowed: [String(rd.id)],
        what: `the id of route domain ${rd.path}`,
        guards: 'declaration',
      },
      {
        read: i + 1,
        pattern: attributePattern('fw-enforced-policy'),
        allowed: ['none', ...printed(rd.enforcedPolicy)],
        what: `the enforced policy of route domain ${rd.path}`,
        guards: 'declaration',
      },
      {
        read: i + 1,
        pattern: attributePattern('fw-staged-policy'),
        allowed: ['none', ...printed(rd.stagedPolicy)],
        what: `the staged policy of route domain ${rd.path}`,
        guards: 'contexts',
      },
    );
  });
  const resolver: string[] = [];
  if (dnsResolver !== undefined) {
    checks.push({
      read: read.length,
      pattern: attributePattern('dns-resolver'),
      allowed: ['none', ...printed(dnsResolver)],
      what: 'the DNS resolver of the global FQDN policy',
      guards: 'resolver',
    });
    read.push('list security firewall global-fqdn-policy');
    resolver.push(`modify security firewall global-fqdn-policy dns-resolver ${dnsResolver}`, SAVE);
  }

  const contexts = [
    `modify security firewall global-rules enforced-policy ${global.enforcedPolicy} staged-policy ${global.stagedPolicy}`,
    ...routeDomains.map((rd) => `modify net route-domain ${rd.path} fw-staged-policy ${rd.stagedPolicy}`),
    SAVE,
  ];
  const release = ['modify security firewall global-rules enforced-policy none staged-policy none', SAVE];
  const releaseResolver = dnsResolver !== undefined ? ['modify security firewall global-fqdn-policy dns-resolver none', SAVE] : [];
  const releaseRouteDomains = Object.fromEntries(
    routeDomains.map((rd) => [rd.id, [`modify net route-domain ${rd.path} fw-staged-policy none`, SAVE]]),
  );
  return {
    owner,
    global,
    routeDomains,
    ...(dnsResolver !== undefined ? { dnsResolver } : {}),
    commands: { read, resolver, contexts, release, releaseResolver, releaseRouteDomains },
    checks,
  };
}

/** The state of a device that owns its BIG-IP: its tenant owns the contexts. */
export function ownDeviceState(compiled: CompiledPolicy): DeviceState {
  const { device } = compiled.model;
  return expectedDeviceState(device.tenant, [compiled], device.dnsResolver);
}

/** A check that failed on the device, with the value found. */
export interface OwnershipConflict {
  readonly check: OwnershipCheck;
  readonly found: string;
}

/**
 * The checks that the outputs of {@link DeviceCommands.read} fail: attributes another owner
 * set. The constructs evaluate the same checks as Terraform conditions; this is the same logic
 * for tools and tests.
 */
export function ownershipConflicts(state: DeviceState, readOutputs: readonly string[]): OwnershipConflict[] {
  const out: OwnershipConflict[] = [];
  for (const check of state.checks) {
    const output = readOutputs[check.read] ?? '';
    for (const m of output.matchAll(new RegExp(check.pattern, 'g'))) {
      if (!check.allowed.includes(m[1])) out.push({ check, found: m[1] });
    }
  }
  return out.sort((a, b) => a.check.read - b.check.read || compareText(a.check.what, b.check.what));
}
