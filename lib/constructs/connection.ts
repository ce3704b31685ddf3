import * as net from 'node:net';
import { Construct, IConstruct } from 'constructs';
import { Annotations, DataResource, Lazy, TerraformResource, TerraformResourceLifecycle, TerraformStack } from 'cdktf';
import { z } from 'zod';
import type { BigipAs3 } from '../../providers/bigip/as3';
import { BigipCommand } from '../../providers/bigip/command';
import { BigipProvider } from '../../providers/bigip/provider';
import { DeviceState, GuardedStep, TMSH_ERROR_PATTERN } from '../afm/device-state';
import { DEVICE_PROPS, LOGGING_PROPS, booleanProp, wholeNumber } from '../policy/device';
import { PolicyIssue, quote } from '../policy/errors';
import { parseIp } from '../policy/ip';
import { BigipCredentials } from './credentials';

/** How Terraform reaches a BIG-IP's management interface. */
export interface BigipConnectionProps {
  /** Management address of the BIG-IP: a host name or IP address, without scheme or port. */
  readonly address?: string;
  /**
   * Management port.
   * @default 443
   */
  readonly port?: number;
  /**
   * Where the provider gets the BIG-IP credentials.
   * @default - sensitive Terraform variables `<tenant>_username` and `<tenant>_password`
   */
  readonly credentials?: BigipCredentials;
  /**
   * CA bundle (PEM file on the machine that runs Terraform) that signs the BIG-IP's
   * management certificate. Required unless `insecureSkipTlsVerify` is set. The certificate must
   * name `address` in its subject alternative names (an IP address SAN when `address` is an IP):
   * the provider's TLS client checks only those.
   * @default - none; synth fails unless insecureSkipTlsVerify is true
   */
  readonly tlsCaBundlePath?: string;
  /**
   * Turns off TLS certificate verification of the management connection. Lab use only: a
   * warning is recorded on the construct. Only `true` or `false`: a string such as `"false"`
   * from an environment variable is refused, never read as true.
   * @default false
   */
  readonly insecureSkipTlsVerify?: boolean;
}

const DNS_NAME_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Why `text` is not a host a URL can carry (a DNS name, an IPv4 address or a bracketed IPv6
 * address), or undefined. Nothing else may reach the provider's address or a URL: `${`
 * would be a Terraform expression, `user:secret@` a credential in plain text.
 */
export function hostProblem(text: string): string | undefined {
  const fix =
    'must be a host name or IP address without scheme, port or path, such as "bigip.example.net", "192.0.2.10" or "[2001:db8::10]"';
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1);
    return net.isIPv6(inner) && !inner.includes('%') ? undefined : `${fix}; the part in brackets is not an IPv6 address`;
  }
  if (net.isIPv6(text)) return `write an IPv6 address in brackets, such as "[${text}]"`;
  if (/^[0-9.]+$/.test(text))
    return net.isIPv4(text) ? undefined : `${fix}; this is not a valid IPv4 address (four numbers from 0 to 255, no leading zeros)`;
  const labels = text.split('.');
  if (text.length > 253 || !labels.every((l) => DNS_NAME_LABEL.test(l)) || /^[0-9]+$/.test(labels[labels.length - 1])) return fix;
  return undefined;
}

/**
 * Why a string that reaches cdk.tf.json verbatim is unsafe there, or undefined. Terraform
 * evaluates `${...}` and `%{...}` in every string; a cdktf token (a reference to another
 * resource) looks the same and cannot be checked at synth.
 */
export function terraformStringProblem(text: string): string | undefined {
  if (/[\x00-\x1f\x7f]/.test(text)) return 'must not contain control characters or line breaks';
  if (/[$%]\{/.test(text)) {
    return 'must not contain "${" or "%{": Terraform would evaluate it as an expression (a cdktf token, such as another resource\'s attribute, cannot be checked at synth); give the literal value';
  }
  return undefined;
}

/** Why `text` is not a usable local file path, or undefined. */
function filePathProblem(text: string): string | undefined {
  if (text.length === 0) return 'must not be empty; give the path of the PEM file';
  if (text.length > 4096) return `must be at most 4096 characters (it has ${text.length})`;
  return terraformStringProblem(text);
}

/** Adds a custom issue whose message is ours, when `problem` finds one. */
export function check(problem: (v: string) => string | undefined) {
  return (v: string, ctx: z.RefinementCtx) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };
}

/** What a literal credentials value looked like, without repeating it (it may be a password). */
function redacted(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `(a literal object${Object.keys(value).length ? ` with ${Object.keys(value).join(', ')}` : ''})`;
  return `(a literal ${typeof value})`;
}

const credentialsField = z
  .unknown()
  .superRefine((value, ctx) => {
    if (value === undefined) return;
    if (!BigipCredentials.isBigipCredentials(value)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'credentials are only given by reference, never literally (a literal would be written into cdk.tf.json and the Terraform state): use BigipCredentials.fromVariables() (sensitive Terraform variables) or BigipCredentials.fromEnvironment()',
        params: { quotedValue: redacted(value) },
      });
      return;
    }
    for (const p of value._problems()) {
      ctx.addIssue({ code: 'custom', path: p.field ? [p.field] : [], message: p.message, params: { quotedValue: p.value } });
    }
  })
  .optional();

/** Connection props as zod fields. */
export const CONNECTION_PROPS = {
  address: z.string({ error: 'expected a host name or IP address' }).superRefine(check(hostProblem)).optional(),
  port: wholeNumber(1, 65535).optional(),
  credentials: credentialsField,
  tlsCaBundlePath: z.string({ error: 'expected the path of a PEM file' }).superRefine(check(filePathProblem)).optional(),
  insecureSkipTlsVerify: booleanProp(),
};

export const CONNECTION_FIELDS = Object.keys(CONNECTION_PROPS) as (keyof BigipConnectionProps)[];

/**
 * Problems of connection props that involve several fields, each naming the field, the value
 * and the fix. Works on the raw props: types are the schema's job, and a string
 * `insecureSkipTlsVerify: "true"` is not an opt-out of TLS verification.
 */
export function connectionIssues(props: Readonly<Record<string, unknown>>, path: string, orShared = false): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const add = (field: string, value: unknown, message: string) => issues.push({ path, field, value: quote(value), message });
  if (props.address === undefined) {
    add(
      'address',
      undefined,
      `is required: the BIG-IP management address, such as "bigip.example.net"${orShared ? ' (or set sharedBigip, which provides the connection)' : ''}`,
    );
  }
  if (props.tlsCaBundlePath === undefined && props.insecureSkipTlsVerify !== true) {
    add(
      'tlsCaBundlePath',
      undefined,
      'TLS verification is on by default and needs the CA bundle that signs the BIG-IP certificate; set tlsCaBundlePath (or, in a lab only, insecureSkipTlsVerify: true)',
    );
  }
  if (props.tlsCaBundlePath !== undefined && props.insecureSkipTlsVerify === true)
    add('insecureSkipTlsVerify', true, 'contradicts tlsCaBundlePath; set only one of them');
  return issues;
}

/** `host:port` of a management endpoint in canonical form (lower-case name, RFC 5952 IPv6, default port 443). */
function endpointKey(address: string, port: number | undefined): string {
  const host = address.startsWith('[') ? `[${parseIp(address.slice(1, -1)).text}]` : address.toLowerCase();
  return `${host}:${port ?? 443}`;
}

interface EndpointOwner {
  readonly path: string;
  readonly what: string;
}

/** Per app: which construct owns `/Common/Shared` and the global context of each BIG-IP. */
const endpointOwners = new WeakMap<IConstruct, Map<string, EndpointOwner>>();

/**
 * The problem of a second owner of one BIG-IP in an app: each declaration of `/Common/Shared`
 * replaces the other's, and both set the global-context policy.
 */
export function endpointClaimIssue(claimant: Construct, address: string, port: number | undefined): PolicyIssue | undefined {
  const key = endpointKey(address, port);
  const other = endpointOwners.get(claimant.node.root)?.get(key);
  if (!other) return undefined;
  return {
    path: claimant.node.path,
    field: 'address',
    value: quote(address),
    message: `BIG-IP ${key} is already managed by ${other.what} ${other.path}; each would replace the other's /Common/Shared objects and global-context policy on every deploy: attach the clusters of one BIG-IP to one SharedBigip`,
  };
}

/** Records `owner` as the owner of the BIG-IP (after {@link endpointClaimIssue} found none). */
export function claimEndpoint(owner: Construct, what: string, address: string, port: number | undefined): void {
  const root = owner.node.root;
  const owners = endpointOwners.get(root) ?? new Map<string, EndpointOwner>();
  endpointOwners.set(root, owners);
  owners.set(endpointKey(address, port), { path: owner.node.path, what });
}

/** Hints for provider-style names given to AfmDevice or SharedBigip. */
export const CONNECTION_OVERRIDES: Readonly<Record<string, string>> = {
  host: 'the BIG-IP management host name or IP address is address',
  trustedCertPath: 'the CA bundle of the BIG-IP certificate is tlsCaBundlePath',
  validateCertsDisable: 'TLS verification is turned off with insecureSkipTlsVerify: true (lab only)',
  insecure: 'TLS verification is turned off with insecureSkipTlsVerify: true (lab only)',
};

/** Props of EgressController, for hints on keys given to other constructs. */
const CONTROLLER_PROP_NAMES: readonly string[] = [
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
  'bigipPeerUrls',
  'image',
  'nodeImage',
  'replicas',
  'cpuRequest',
  'memoryRequest',
  'memoryLimit',
  'coalesceMs',
  'maxPushesInFlight',
  'maxDeviceBusyPercent',
  'maxPushesPerSecond',
  'logLevel',
];

/** Props of the rule constructs. */
const RULE_PROP_NAMES = [
  'device',
  'name',
  'action',
  'priority',
  'destinations',
  'ports',
  'namespace',
  'service',
  'namespaceSelector',
  'podSelector',
  'logging',
  'audit',
  'description',
  'bandwidthLimit',
  'schedule',
  'expiresAt',
  'owner',
  'ticket',
  'justification',
  'redirect',
];

/** Settings of the kubernetes provider that belong under EgressCrdStack's `kubernetes`. */
const KUBERNETES_PROVIDER_KEYS = [
  'configPath',
  'configPaths',
  'configContext',
  'configContextAuthInfo',
  'configContextCluster',
  'host',
  'token',
  'clientCertificate',
  'clientKey',
  'clusterCaCertificate',
  'insecure',
  'exec',
  'proxyUrl',
  'tlsServerName',
  'username',
  'password',
  'ignoreAnnotations',
  'ignoreLabels',
  'experiments',
  'alias',
];

/**
 * Where a prop that is not the construct's own belongs, with the fix, for hints on misplaced
 * keys. `overrides` replace the generic text for the keys a given construct is likely to get.
 */
export function misplacedProps(own: readonly string[], overrides: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const home = (keys: readonly string[], text: (k: string) => string) => {
    for (const k of keys) if (!own.includes(k) && !(k in out)) out[k] = text(k);
  };
  home(Object.keys(overrides), (k) => overrides[k]);
  home(
    ['username', 'password', 'token'],
    () =>
      'credentials are only given by reference: set credentials: BigipCredentials.fromVariables() or BigipCredentials.fromEnvironment() on the AfmDevice or SharedBigip (the controller reads them from credentialsSecret)',
  );
  home(LOGGING_PROPS, (k) => `it is an option of the AfmDevice's logging prop: logging: { ${k}: ... }`);
  home([...Object.keys(DEVICE_PROPS), 'sharedBigip', 'crdStack'], () => 'it is a prop of AfmDevice; set it there');
  home([...CONNECTION_FIELDS], () => 'it is a connection prop of AfmDevice and SharedBigip; set it there');
  home(CONTROLLER_PROP_NAMES, () => 'it is a prop of EgressController (the in-cluster controller); set it there');
  home(['name'], () => 'it is a prop of SharedBigip and of the rules and external services');
  home(
    RULE_PROP_NAMES,
    () =>
      'it is a prop of the egress rules (ClusterEgressRule, NamespaceEgressRule, ServiceEgressRule); create a rule with device: <this device>',
  );
  home(['kubernetes'], () => 'it is a prop of EgressCrdStack; a stack with rules needs its own KubernetesProvider');
  home(KUBERNETES_PROVIDER_KEYS, (k) => `it is a setting of the kubernetes provider: give EgressCrdStack kubernetes: { ${k}: ... }`);
  return out;
}

/** The `bigip` provider for a validated connection, aliased so several devices can share a stack. */
export function bigipProvider(scope: Construct, alias: string, props: BigipConnectionProps): BigipProvider {
  if (props.insecureSkipTlsVerify === true) {
    Annotations.of(scope).addWarning(
      'TLS verification of the BIG-IP management connection is off (insecureSkipTlsVerify). Use tlsCaBundlePath outside a lab.',
    );
  }
  const credentials = (props.credentials ?? BigipCredentials.fromVariables())._bind(scope, alias);
  const provider = providerWith(scope, alias, props, credentials);
  boundCredentials.set(provider, credentials);
  return provider;
}

function providerWith(
  scope: Construct,
  alias: string,
  props: BigipConnectionProps,
  credentials: { readonly username?: string; readonly password?: string },
): BigipProvider {
  return new BigipProvider(scope, 'Provider', {
    alias,
    address: props.address,
    port: props.port !== undefined ? String(props.port) : undefined,
    username: credentials.username,
    password: credentials.password,
    tokenAuth: true,
    validateCertsDisable: props.insecureSkipTlsVerify === true,
    trustedCertPath: props.tlsCaBundlePath,
    teemDisable: true,
  });
}

/** The credentials each provider made by {@link bigipProvider} logs in with (the other units of a pair use the same). */
const boundCredentials = new WeakMap<BigipProvider, { readonly username?: string; readonly password?: string }>();

/**
 * The `bigip` provider of another unit of `leader`'s BIG-IP pair: the same credentials (the same
 * Terraform variables, not new ones) and TLS settings, another address.
 */
export function peerProvider(scope: Construct, alias: string, leader: BigipProvider, props: BigipConnectionProps): BigipProvider {
  return providerWith(scope, alias, props, boundCredentials.get(leader) ?? {});
}

/** An HCL string literal: JSON's escapes are HCL's, and `${` / `%{` must not start a template. */
function hclQuoted(text: string): string {
  return JSON.stringify(text)
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, () => '%%{');
}

/** `type.name` of a resource, as Terraform expressions and `-replace` name it. */
function address(resource: TerraformResource): string {
  return `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
}

/** The command that runs the next deploy of `resource`'s stack with `resource` replaced (cdktf deploy has no -replace). */
function replaceCommand(resource: TerraformResource): string {
  return `terraform -chdir=cdktf.out/stacks/${TerraformStack.of(resource).node.id} apply -replace=${address(resource)}`;
}

/** A condition block as Terraform's JSON syntax spells it (lazily produced blocks skip cdktf's key conversion). */
interface ConditionBlock {
  readonly condition: string;
  readonly error_message: string;
}

/**
 * Fails the apply when a command of `command` printed a tmsh error: `bigip_command` reports
 * success whatever tmsh prints (go-bigip `sys.go` RunCommand fails only on an HTTP error), and
 * `/mgmt/tm/util/bash` answers 200 with the error in `commandResult`. A failed postcondition
 * keeps failing every later plan until the command runs again.
 */
function commandSucceeded(command: BigipCommand, owner: string): ConditionBlock {
  return {
    condition: `\${alltrue([for r in self.command_result : length(regexall(${hclQuoted(TMSH_ERROR_PATTERN)}, r)) == 0])}`,
    error_message:
      `A tmsh command of ${owner} failed on the BIG-IP (the provider does not notice: see command_result of ${address(command)} in the Terraform state). ` +
      `Fix the cause, such as a missing route domain or DNS resolver, then deploy again with this resource replaced: ${replaceCommand(command)}.`,
  };
}

/** One precondition per ownership check of `step`: the value read must be unset, none, or this owner's. */
function ownershipConditions(state: DeviceState, step: GuardedStep, read: BigipCommand, owner: string): ConditionBlock[] {
  return state.checks
    .filter((c) => c.guards === step)
    .map((c) => ({
      condition: `\${alltrue([for v in flatten(regexall(${hclQuoted(c.pattern)}, ${address(read)}.command_result[${c.read}])) : contains([${c.allowed.map(hclQuoted).join(', ')}], v)])}`,
      error_message:
        `${c.what.charAt(0).toUpperCase()}${c.what.slice(1)} on the BIG-IP is not one that ${owner} sets (see command_result[${c.read}] of ${address(read)} in the Terraform state): ` +
        `it belongs to another owner, and this deploy does not take it over. Release it on the BIG-IP or give ${owner} a setting that matches it, ` +
        `then deploy again with the reading replaced: ${replaceCommand(read)}.`,
    }));
}

/**
 * What the owner of a BIG-IP's global context (an AfmDevice that owns its BIG-IP, or a
 * SharedBigip) creates besides its declaration, in the order Terraform applies it:
 *
 * 1. `ContextsRead` lists every context and setting the owner writes (again whenever the expected
 *    state changes, `ContextsIntent`);
 * 2. `Resolver` sets the global FQDN resolver and saves, before the declaration creates any FQDN
 *    address list, refusing (a precondition) a resolver another owner set; `ResolverRelease<path>`
 *    releases it when the owner changes resolver or is destroyed;
 * 3. the declaration, refusing a route domain whose enforced policy is another owner's or whose
 *    id is not the configured one ({@link declarationLifecycle});
 * 4. `Contexts` attaches the global and staged route-domain policies and saves, refusing
 *    attachments another owner made; `ContextsRelease` and one `ContextsReleaseRd<id>` per route
 *    domain detach them on destroy.
 *
 * Every command resource fails the apply when tmsh printed an error.
 */
export class ContextOwnership {
  public readonly read: BigipCommand;
  public readonly resolver?: BigipCommand;
  private declaration?: BigipAs3;

  constructor(
    private readonly scope: Construct,
    private readonly provider: BigipProvider,
    private readonly state: () => DeviceState | undefined,
    dnsResolver: string | undefined,
  ) {
    const owner = scope.node.path;
    const intent = new DataResource(scope, 'ContextsIntent', {
      input: Lazy.anyValue({
        produce: () => {
          const s = this.state();
          return s ? { owner: s.owner, global: s.global, routeDomains: s.routeDomains, dnsResolver: s.dnsResolver ?? null } : {};
        },
      }) as unknown as Record<string, unknown>,
    });
    const read: BigipCommand = new BigipCommand(scope, 'ContextsRead', {
      provider,
      commands: Lazy.listValue({ produce: () => [...(this.state()?.commands.read ?? [])] }),
      lifecycle: {
        replaceTriggeredBy: [intent],
        postcondition: Lazy.anyValue({ produce: () => [commandSucceeded(read, owner)] }) as never,
      },
    });
    this.read = read;
    if (dnsResolver !== undefined) {
      // One release per resolver path: when the path changes, Terraform destroys the old
      // release first (it releases the resolver this owner set), then reads the contexts again,
      // so the new resolver replaces no one's but this owner's.
      new BigipCommand(scope, `ResolverRelease${dnsResolver.replace(/[^A-Za-z0-9_-]/g, '_')}`, {
        provider,
        dependsOn: [read],
        when: 'destroy',
        commands: ['modify security firewall global-fqdn-policy dns-resolver none', 'save sys config'],
      });
      const resolver: BigipCommand = new BigipCommand(scope, 'Resolver', {
        provider,
        dependsOn: [read],
        commands: Lazy.listValue({ produce: () => [...(this.state()?.commands.resolver ?? [])] }),
        lifecycle: this.guarded('resolver', () => resolver),
      });
      this.resolver = resolver;
    }
  }

  /** What the declaration depends on: the reading, and the resolver its FQDN lists need. */
  public get declarationDependencies(): BigipCommand[] {
    return this.resolver ? [this.read, this.resolver] : [this.read];
  }

  /** The declaration's lifecycle: it refuses route domains another owner enforces a policy on. */
  public declarationLifecycle(): TerraformResourceLifecycle {
    return { precondition: Lazy.anyValue({ produce: () => this.conditions('declaration') }) as never };
  }

  /**
   * The destroy-time release of a route domain's staged policy. One resource per route domain:
   * when no device uses the route domain any more, Terraform destroys the resource, which
   * releases the attachment before the declaration (which it depends on) deletes the policy.
   */
  public releaseRouteDomain(id: number): void {
    const name = `ContextsReleaseRd${id}`;
    if (this.scope.node.tryFindChild(name) || !this.declaration) return;
    new BigipCommand(this.scope, name, {
      provider: this.provider,
      dependsOn: [this.declaration],
      when: 'destroy',
      commands: Lazy.listValue({ produce: () => [...(this.state()?.commands.releaseRouteDomains[id] ?? [])] }),
    });
  }

  /** Creates the attachments (after `declaration`, which creates the policies) and their release. */
  public attach(declaration: BigipAs3): void {
    this.declaration = declaration;
    const contexts: BigipCommand = new BigipCommand(this.scope, 'Contexts', {
      provider: this.provider,
      dependsOn: [declaration],
      commands: Lazy.listValue({ produce: () => [...(this.state()?.commands.contexts ?? [])] }),
      lifecycle: this.guarded('contexts', () => contexts),
    });
    new BigipCommand(this.scope, 'ContextsRelease', {
      provider: this.provider,
      dependsOn: [declaration],
      when: 'destroy',
      commands: Lazy.listValue({ produce: () => [...(this.state()?.commands.release ?? [])] }),
    });
  }

  private conditions(step: GuardedStep): ConditionBlock[] {
    const state = this.state();
    return state ? ownershipConditions(state, step, this.read, this.scope.node.path) : [];
  }

  private guarded(step: GuardedStep, self: () => BigipCommand): TerraformResourceLifecycle {
    return {
      precondition: Lazy.anyValue({ produce: () => this.conditions(step) }) as never,
      postcondition: Lazy.anyValue({ produce: () => [commandSucceeded(self(), this.scope.node.path)] }) as never,
    };
  }
}
