import { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Aspects, IAspect, ISynthesisSession, Lazy, TerraformStack } from 'cdktf';
import { IConstruct } from 'constructs';
// Not re-exported by cdktf's index, but stable: cdktf 0.21.0 is its final release, and
// TerraformAsset writes its files through the same hook.
import { addCustomSynthesis } from 'cdktf/lib/synthesize/synthesizer';
import { BigipAs3 } from '../../providers/bigip/as3';
import type { BigipProvider } from '../../providers/bigip/provider';
import { renderAs3, renderTenantAs3 } from '../afm/as3';
import { ownDeviceState } from '../afm/device-state';
import { CompiledPolicy, compilePolicy } from '../policy/compile';
import { ARTIFACT_FORMAT, PolicyArtifact, expiredRules, sha256 } from '../policy/plan';
import { buildSyncPlan } from '../k8s/sync-plan';
import { DefaultAction, EgressLoggingOptions } from '../policy/enums';
import { EgressPolicyError, EgressSynthError, quote, unlessInvalid } from '../policy/errors';
import { readStruct } from '../policy/struct';
import { DEVICE_PROPS, EgressSnat, defaultTenant, deviceIssues, deviceModel, parseProps, throwIssues } from '../policy/device';
import type { DeviceModel, ExternalServiceModel, PolicyModel, RuleModel } from '../policy/model';
import { NamespaceRouteDomain, namespaceRouteDomains } from '../policy/route-domains';
import { ruleKey } from '../policy/model';
import { z } from 'zod';
import {
  BigipConnectionProps,
  CONNECTION_FIELDS,
  CONNECTION_OVERRIDES,
  CONNECTION_PROPS,
  ContextOwnership,
  bigipProvider,
  claimEndpoint,
  connectionIssues,
  endpointClaimIssue,
  misplacedProps,
} from './connection';
import { checkedConstructId } from './construct-id';
import { EgressCrdStack } from './crd-stack';
import { SharedBigip } from './shared-bigip';
import { addSynthCheck, isRefused, markUnbuilt, recordedProblems, refused, unbuiltDependency } from './problems';
import { EXPIRY_WARNING_DAYS_DEFAULT, expiryNotice } from '../policy/schedule';
import type { PolicyIssue } from '../policy/errors';
import { BigipHaOptions, HA_PROP, HaArtifact, addHaUnits, haArtifact, haIssues, peerUrls } from './ha';

const DEVICE_SYMBOL = Symbol.for('cdktf-ces.AfmDevice');
/** Brand of EgressGuardrails (defined in guardrails.ts, which imports this module). */
const GUARDRAILS_BRAND = Symbol.for('cdktf-ces.EgressGuardrails');
/** What a guardrail set says about expiry (see guardrails.ts). */
const EXPIRY_SETTINGS = Symbol.for('cdktf-ces.ExpirySettings');
interface ExpirySettings {
  readonly name: string;
  readonly warningDays: number;
  readonly failExpired: boolean;
}
/** Folder, inside a stack's output directory, of the policy artifacts. */
export const ARTIFACT_DIR = 'cdktf-ces';

// Field order is the order of the props interface (issues are listed in it).
const { clusterName, ...deviceSettings } = DEVICE_PROPS;
const afmDeviceSchema = z.strictObject({
  ...CONNECTION_PROPS,
  clusterName,
  sharedBigip: z.custom<SharedBigip>((v) => SharedBigip.isSharedBigip(v), { error: 'must be a SharedBigip' }).optional(),
  crdStack: z.custom<EgressCrdStack>((v) => EgressCrdStack.isEgressCrdStack(v), {
    error: (issue) =>
      issue.input === undefined
        ? 'is required: pass the EgressCrdStack of this app (new EgressCrdStack(app, "crds")), the stack that holds the CRDs of the rule kinds'
        : 'must be an EgressCrdStack of the same app',
  }),
  ...deviceSettings,
  highAvailability: HA_PROP,
});
const DEVICE_FIELDS = Object.keys(afmDeviceSchema.shape);
const DEVICE_HINTS = {
  what: 'an AfmDevice',
  nested: { logging: 'EgressLoggingOptions', highAvailability: 'BigipHaOptions' },
  expected: '{ clusterName, crdStack, address, tlsCaBundlePath, ... } or { clusterName, crdStack, sharedBigip, ... }',
  misplaced: misplacedProps(DEVICE_FIELDS, {
    ...CONNECTION_OVERRIDES,
    audit: 'audit is a rule prop; audit mode of the whole device is auditMode',
    name: "an AfmDevice's BIG-IP partition is its tenant (name is a prop of SharedBigip and of the rules)",
    namespace: 'it is a prop of NamespaceEgressRule, ServiceEgressRule and EgressController; set it there',
    device: 'this is the device: rules and the EgressController take device: <this AfmDevice>',
    kubernetes: 'it is a prop of EgressCrdStack; pass the EgressCrdStack as crdStack',
  }),
};

/** The devices of each stack, to refuse two with one tenant (their provider alias and artifact would collide). */
const devicesOfStack = new WeakMap<TerraformStack, AfmDevice[]>();

/** Props of {@link AfmDevice}. */
export interface AfmDeviceProps extends BigipConnectionProps {
  /**
   * Name of the Kubernetes cluster whose egress this device controls: a DNS label of at most
   * 40 characters. It appears in object remarks, CR labels and the default tenant name.
   */
  readonly clusterName: string;
  /**
   * A BIG-IP shared with other clusters. Its global context and `/Common/Shared` objects are
   * then owned by the SharedBigip, which also provides the connection: leave `address`,
   * `port`, `credentials` and the TLS props unset.
   * @default - this device owns its BIG-IP (connection props required)
   */
  readonly sharedBigip?: SharedBigip;
  /**
   * The stack with the rule CRDs. This device's stack is made to depend on it, so the CRDs
   * exist before any rule CR is planned.
   */
  readonly crdStack: EgressCrdStack;
  /**
   * AS3 tenant (BIG-IP partition) owned by this device's declaration.
   * @default - `k8s_<clusterName>` with "-" replaced by "_"
   */
  readonly tenant?: string;
  /**
   * Application (folder) inside the tenant.
   * @default "egress"
   */
  readonly application?: string;
  /**
   * Route-domain id of the cluster's egress traffic; addresses are rendered as `addr%id`.
   * @default 0
   */
  readonly routeDomain?: number;
  /**
   * BIG-IP path of that route domain, when it is not named after its id (Declarative Onboarding
   * and many devices name route domains, such as `/Common/rd_prod`). tmsh and AS3 name a route
   * domain by path; the deploy checks that this route domain has the id `routeDomain`.
   * @default - `/Common/<routeDomain>`
   */
  readonly routeDomainName?: string;
  /**
   * Verdict for traffic no rule allows.
   * @default DefaultAction.DENY
   */
  readonly defaultAction?: DefaultAction;
  /**
   * Pod CIDRs of the cluster; the egress virtual server only accepts traffic from these. Each
   * CIDR once, none inside another, and not `0.0.0.0/0` or `::/0` (those are not pods).
   * @default - traffic from any source on the listening VLANs
   */
  readonly podCidrs?: string[];
  /**
   * BIG-IP VLANs (paths such as `/Common/k8s`) the egress virtual server listens on, each once.
   * @default - all VLANs
   */
  readonly vlans?: string[];
  /**
   * Next-hop gateway addresses, each once; the virtual server forwards to them through a pool.
   * With `podCidrs`, at least one gateway of each pod address family.
   * @default - forward by the BIG-IP routing table
   */
  readonly gateways?: string[];
  /**
   * Source address translation of egress traffic. A SNAT pool needs, with `podCidrs`, at least
   * one address of each pod address family (a dual-stack cluster needs IPv4 and IPv6 addresses).
   * @default EgressSnat.automap()
   */
  readonly snat?: EgressSnat;
  /**
   * Audit mode for the whole device: nothing is enforced (every flow passes) and every rule and
   * the default are rendered into the staged policies, so the logs show what the policy would
   * do. For a first rollout.
   * @default false
   */
  readonly auditMode?: boolean;
  /**
   * Where and what to log.
   * @default - the BIG-IP local database; rule matches of rules with logging on, IP and TCP errors, and flows refused by the default
   */
  readonly logging?: EgressLoggingOptions;
  /**
   * BIG-IP path of an IP Intelligence policy for the egress virtual server (for example to
   * block known-bad reputation categories).
   * @default - none
   */
  readonly ipIntelligencePolicy?: string;
  /**
   * BIG-IP path of a Protocol Inspection profile for the egress virtual server.
   * @default - none
   */
  readonly protocolInspectionProfile?: string;
  /**
   * BIG-IP path of the `net dns-resolver` AFM uses to resolve FQDN destinations. Required
   * when any rule or external service uses an FQDN. It is set as the BIG-IP's global FQDN
   * resolver before the declaration is deployed; the deploy refuses to replace a resolver that
   * is already set to another one.
   * @default - none (FQDN destinations fail synth)
   */
  readonly dnsResolver?: string;
  /**
   * The BIG-IP is a pair (the units of one sync-failover device group): `address` is the
   * config leader, these are the other units. The declaration is deployed to the leader, then
   * to each other unit (its service-discovery tasks are its own), and the controller writes
   * the source lists to whichever unit is active. See docs/ha.md.
   * @default - one BIG-IP
   */
  readonly highAvailability?: BigipHaOptions;
  /**
   * Namespaces whose egress reaches the BIG-IP in route domains of their own, on VLANs of their
   * own (CNIs that give namespaces their own networks, whose pod addresses may overlap). Each
   * gets an egress virtual server in its route domain, and its namespace rules are enforced in
   * that route domain's context; cluster rules stay global. The route domains and VLANs must
   * exist on the BIG-IP (AS3 cannot create them). See docs/route-domains.md.
   * @default - none: every namespace is in `routeDomain`
   */
  readonly namespaceRouteDomains?: NamespaceRouteDomain[];
}

/**
 * One BIG-IP AFM enforcing the egress policy of one Kubernetes cluster.
 *
 * Owns the `bigip` provider, one AS3 declaration (`bigip_as3`, rendered lazily at synth so
 * rules created after the device still land) and, unless it shares its BIG-IP, the
 * `bigip_command`s for what AS3 cannot set: the global FQDN resolver (before the declaration)
 * and the global and staged route-domain policies (after it), each refusing to take over what
 * another owner set.
 */
export class AfmDevice extends Construct {
  /** Whether `x` is an AfmDevice (works across copies of this library). */
  public static isAfmDevice(x: unknown): x is AfmDevice {
    return typeof x === 'object' && x !== null && DEVICE_SYMBOL in x;
  }

  /** Cluster name. */
  public readonly clusterName!: string;
  /** AS3 tenant. */
  public readonly tenant!: string;
  /** The BIG-IP provider the device's resources use. */
  public readonly provider!: BigipProvider;
  /** The AS3 declaration resource. */
  public readonly declaration!: BigipAs3;
  /** The shared BIG-IP this device is attached to, if any. */
  public readonly sharedBigip?: SharedBigip;
  /** `https://<address>[:<port>]` of the BIG-IP management interface. */
  public readonly managementUrl!: string;
  /** `https://<address>[:<port>]` of the other units when the BIG-IP is a pair (`highAvailability`); empty otherwise. */
  public readonly peerManagementUrls: string[] = [];
  /** Verdict for traffic no rule allows. */
  public readonly defaultAction!: DefaultAction;

  private readonly deviceModel!: DeviceModel;
  private readonly rules = new Map<string, RuleModel>();
  private readonly ruleConstructs: IConstruct[] = [];
  /** Rules already warned of their expiry (validations may run more than once). */
  private readonly warned = new WeakSet<IConstruct>();
  private readonly externalServices = new Map<string, ExternalServiceModel>();
  private compiled?: { version: number; result: CompiledPolicy };
  private version = 0;
  private as3JsonCache?: { compiled: CompiledPolicy; json: string };
  private ha?: HaArtifact;

  constructor(scope: Construct, id: string, props: AfmDeviceProps) {
    super(scope, checkedConstructId(scope, id, 'an AfmDevice'));
    Object.defineProperty(this, DEVICE_SYMBOL, { value: true });
    const path = this.node.path;
    // Own keys only, in and out: a value other code put on Object.prototype (an auditMode:
    // true, an insecureSkipTlsVerify: true) is never read as a prop.
    const ownProps: unknown = readStruct(props, '').data ?? props;
    const { value: p, issues } = parseProps(afmDeviceSchema, ownProps, path, DEVICE_HINTS);
    // Refused props are reported at synth with every other problem of the app; a refused
    // device is not built: no provider, declaration, command or artifact, and no rule on it.
    if (issues[0]?.field === '(props)' && refused(this, () => throwIssues(issues, DEVICE_FIELDS))) return;
    const raw = ownProps as Record<string, unknown>;
    const stack = TerraformStack.of(this);
    // A device on a refused SharedBigip or EgressCrdStack is not built either (see problems.ts).
    const unbuiltDependency = [raw.sharedBigip, raw.crdStack].find(
      (d): d is IConstruct => (SharedBigip.isSharedBigip(d) || EgressCrdStack.isEgressCrdStack(d)) && isRefused(d),
    );
    if (SharedBigip.isSharedBigip(raw.sharedBigip)) (this as { sharedBigip?: SharedBigip }).sharedBigip = raw.sharedBigip;

    if (raw.sharedBigip !== undefined) {
      if (SharedBigip.isSharedBigip(raw.sharedBigip) && raw.sharedBigip.node.root !== this.node.root) {
        issues.push({
          path,
          field: 'sharedBigip',
          value: quote(raw.sharedBigip.node.path),
          message: 'belongs to another app; create the SharedBigip in this app',
        });
      }
      for (const field of CONNECTION_FIELDS) {
        if (raw[field] !== undefined) {
          issues.push({
            path,
            field,
            value: field === 'credentials' ? '(credentials)' : quote(raw[field]),
            message: 'comes from the SharedBigip this device uses; set it there, not on the device',
          });
        }
      }
      if (raw.dnsResolver !== undefined) {
        issues.push({
          path,
          field: 'dnsResolver',
          value: quote(raw.dnsResolver),
          message: 'the FQDN resolver is global to the BIG-IP; set it on the SharedBigip',
        });
      }
    } else {
      issues.push(...connectionIssues(raw, path, true));
    }
    if (EgressCrdStack.isEgressCrdStack(raw.crdStack) && raw.crdStack.node.root !== this.node.root) {
      issues.push({
        path,
        field: 'crdStack',
        value: quote(raw.crdStack.node.path),
        message: 'belongs to another app; create the EgressCrdStack in this app',
      });
    }
    if (p) {
      issues.push(...deviceIssues(path, p));
      // Two declarations of one tenant replace each other; in one stack their provider alias
      // and policy artifact would also collide.
      const tenant = p.tenant ?? defaultTenant(p.clusterName);
      const sameStack = (devicesOfStack.get(stack) ?? []).find((d) => d.tenant === tenant);
      if (sameStack) {
        issues.push({
          path,
          field: 'tenant',
          value: quote(tenant),
          message: `device ${sameStack.node.path} in the same stack already uses this tenant; their provider alias and policy artifact would collide: give each device its own tenant`,
        });
      }
      const sharedIssue = p.sharedBigip && !isRefused(p.sharedBigip) ? p.sharedBigip._tenantIssue(path, tenant) : undefined;
      if (sharedIssue && !sameStack) issues.push(sharedIssue);
      const claim = !p.sharedBigip && p.address !== undefined ? endpointClaimIssue(this, p.address, p.port) : undefined;
      if (claim) issues.push(claim);
      issues.push(...haIssues(this, raw, p.highAvailability));
    }
    if (refused(this, () => throwIssues(issues, DEVICE_FIELDS)) || unbuiltDependency) {
      if (!isRefused(this)) markUnbuilt(this, unbuiltDependency as IConstruct);
      // Its SharedBigip is used, by a device that cannot be built yet.
      if (this.sharedBigip && !isRefused(this.sharedBigip)) this.sharedBigip._attachRefused();
      return;
    }

    const valid = p as z.output<typeof afmDeviceSchema>;
    const shared = valid.sharedBigip;
    const connection: BigipConnectionProps = shared
      ? shared.connection
      : {
          address: valid.address,
          port: valid.port,
          credentials: valid.credentials as BigipConnectionProps['credentials'],
          tlsCaBundlePath: valid.tlsCaBundlePath,
          insecureSkipTlsVerify: valid.insecureSkipTlsVerify,
        };
    // On a shared BIG-IP the FQDN resolver is the SharedBigip's (one per device).
    this.deviceModel = deviceModel(
      path,
      Object.assign(Object.create(null), valid, { dnsResolver: shared ? shared.dnsResolver : valid.dnsResolver }),
    );
    this.clusterName = this.deviceModel.cluster;
    this.tenant = this.deviceModel.tenant;
    this.defaultAction = this.deviceModel.defaultAction as DefaultAction;
    devicesOfStack.set(stack, [...(devicesOfStack.get(stack) ?? []), this]);
    if (!shared) claimEndpoint(this, 'AfmDevice', connection.address as string, connection.port);

    stack.addDependency(valid.crdStack);
    this.managementUrl = `https://${connection.address}${connection.port !== undefined ? `:${connection.port}` : ''}`;
    if (shared) {
      const sharedStack = TerraformStack.of(shared);
      if (sharedStack !== stack) stack.addDependency(sharedStack);
      this.provider = shared._providerFor(this);
      shared._attach(this);
    } else {
      this.provider = bigipProvider(this, this.tenant, connection);
    }

    // A device that owns its BIG-IP owns its global context: it reads what it will write, sets
    // the resolver before the declaration and attaches the context policies after it.
    const ownership = shared
      ? undefined
      : new ContextOwnership(this, this.provider, () => unlessInvalid(() => ownDeviceState(this._compile()), undefined), valid.dnsResolver);
    this.declaration = new BigipAs3(this, 'Resource', {
      provider: this.provider,
      dependsOn: ownership
        ? ownership.declarationDependencies
        : shared && TerraformStack.of(shared) === stack
          ? [shared.declaration]
          : undefined,
      lifecycle: ownership?.declarationLifecycle(),
      as3Json: Lazy.stringValue({ produce: () => unlessInvalid(() => this._as3Json(), '') }),
      // AS3 keeps the id and remark of the last request and GET /declare/<tenant> also returns
      // Common: without this every plan would show a change (provider issues #869, #1148).
      ignoreMetadata: true,
    });
    // The policy artifact next to cdk.tf.json is what the CLI tools read (model, sync plan,
    // digest of the AS3 JSON to detect a stale output).
    addCustomSynthesis(this, { onSynthesize: (session) => this.writeArtifact(session) });

    // What AS3 cannot set goes through tmsh: the global-context policies and the staged
    // route-domain policy. The commands are built from validated names only (see
    // policy/names.ts), so nothing can be injected; they depend on every rule, so they are
    // rendered at synth like the declaration.
    ownership?.attach(this.declaration);
    ownership?.releaseRouteDomain(this.deviceModel.routeDomain);
    // Each mapped namespace's route domain has its own staged attachment to release.
    for (const m of namespaceRouteDomains(this.deviceModel)) ownership?.releaseRouteDomain(m.routeDomain);
    // A BIG-IP pair: the same declaration to the other units after everything on the leader (ha.ts).
    if (valid.highAvailability) {
      const ha = valid.highAvailability;
      for (const url of peerUrls(ha, connection)) (this.peerManagementUrls as string[]).push(url);
      this.ha = haArtifact(ha, connection, this.managementUrl);
      for (const peer of ha.peerAddresses) claimEndpoint(this, 'AfmDevice', peer, ha.peerPort ?? connection.port);
      addHaUnits(
        this,
        this.tenant,
        ha,
        this.provider,
        connection,
        this.declaration,
        (scope, provider, dependsOn) =>
          new BigipAs3(scope, 'Resource', {
            provider,
            dependsOn: [...dependsOn],
            as3Json: Lazy.stringValue({ produce: () => unlessInvalid(() => this._as3Json(), '') }),
            ignoreMetadata: true,
          }),
      );
    }
    // Cross-rule problems (such as FQDN destinations without a resolver) fail synth here, and
    // guardrails applied above the stacks (where cdktf does not invoke aspects) are applied.
    addSynthCheck(this, () => this.synthProblems());
  }

  /**
   * The device settings as the policy model holds them.
   * @internal
   */
  public get _deviceModel(): DeviceModel {
    return this.deviceModel;
  }

  /**
   * Registers a rule; fails on a name already used at the same level.
   * @internal
   */
  public _addRule(rule: RuleModel, construct?: IConstruct): void {
    const key = ruleKey(rule);
    const other = this.rules.get(key);
    if (other) {
      throw new EgressPolicyError([
        {
          path: rule.path,
          field: 'name',
          value: quote(rule.name),
          message: `another ${rule.level} rule${rule.namespace ? ` in namespace "${rule.namespace}"` : ''} on device ${this.node.path} has this name (${other.path}); give one of them a different name`,
        },
      ]);
    }
    this.rules.set(key, rule);
    if (construct) this.ruleConstructs.push(construct);
    this.version++;
  }

  /**
   * Registers an external service; fails on a duplicate name.
   * @internal
   */
  public _addExternalService(es: ExternalServiceModel): void {
    const other = this.externalServices.get(es.name);
    if (other) {
      throw new EgressPolicyError([
        {
          path: es.path,
          field: 'name',
          value: quote(es.name),
          message: `another ExternalService on device ${this.node.path} has this name (${other.path}); give one of them a different name`,
        },
      ]);
    }
    this.externalServices.set(es.name, es);
    this.version++;
  }

  /**
   * The external services registered so far.
   * @internal
   */
  public _externalServiceModels(): ExternalServiceModel[] {
    return [...this.externalServices.values()];
  }

  /**
   * The policy model of everything registered so far.
   * @internal
   */
  public _policyModel(): PolicyModel {
    return { device: this.deviceModel, externalServices: this._externalServiceModels(), rules: [...this.rules.values()] };
  }

  /**
   * The compiled policy (cached until a rule or external service is added).
   * @internal
   */
  public _compile(): CompiledPolicy {
    // A device that is not built has no policy: what asks for it gets the device's problems.
    if (isRefused(this)) throw new EgressPolicyError(this.unbuiltIssues());
    if (!this.compiled || this.compiled.version !== this.version) {
      this.compiled = { version: this.version, result: compilePolicy(this._policyModel()) };
    }
    return this.compiled.result;
  }

  /**
   * The AS3 request this device deploys.
   * @internal
   */
  public _renderAs3(): Record<string, unknown> {
    return JSON.parse(this._as3Json());
  }

  /**
   * The AS3 request as the JSON string `bigip_as3` receives.
   * @internal
   */
  public _as3Json(): string {
    const compiled = this._compile();
    if (this.as3JsonCache?.compiled !== compiled) {
      this.as3JsonCache = { compiled, json: JSON.stringify(this.sharedBigip ? renderTenantAs3(compiled) : renderAs3(compiled)) };
    }
    return this.as3JsonCache.json;
  }

  /**
   * The artifact written next to the stack's cdk.tf.json.
   * @internal
   */
  public _artifact(): PolicyArtifact {
    const compiled = this._compile();
    return {
      format: ARTIFACT_FORMAT,
      devicePath: this.node.path,
      model: compiled.model,
      plan: buildSyncPlan(compiled),
      as3Sha256: sha256(this._as3Json()),
      sharedContext: this.sharedBigip ? { stack: TerraformStack.of(this.sharedBigip).node.id, name: this.sharedBigip.name } : undefined,
      expiredRules: compiled.expired.length ? expiredRules(compiled) : undefined,
      ha: this.ha,
    };
  }

  /** Why this device is not built: its own problems, or the construct it refers to. */
  private unbuiltIssues(): PolicyIssue[] {
    const own = recordedProblems(this);
    if (own.length) return own;
    const dependency = unbuiltDependency(this) as IConstruct;
    const field = dependency === this.sharedBigip ? 'sharedBigip' : 'crdStack';
    return [
      {
        path: this.node.path,
        field,
        value: quote(dependency.node.path),
        message: 'is not built (its problems are reported at synth): fix it, and this device is built too',
      },
    ];
  }

  private applyAncestorGuardrails(): void {
    for (const rule of this.ruleConstructs) {
      for (let scope: IConstruct | undefined = rule; scope; scope = scope.node.scope) {
        for (const aspect of Aspects.of(scope).all) {
          if (GUARDRAILS_BRAND in aspect) (aspect as IAspect).visit(rule);
        }
      }
    }
  }

  /** Cross-rule and rendering problems, guardrail violations and expiry notices, at synth. */
  private synthProblems(): PolicyIssue[] {
    this.applyAncestorGuardrails();
    return [...this.scopeProblems(), ...this.expiryProblems(), ...this.policyProblems()];
  }

  /**
   * Problems recorded on the scopes above this device and its rules: guardrails refused where
   * they were applied. Part of this device's problems so that, when validation is skipped, its
   * rules are not written without the guardrails meant for them.
   */
  private scopeProblems(): PolicyIssue[] {
    const scopes = new Set<IConstruct>();
    for (const start of [this, ...this.ruleConstructs]) {
      for (let scope = start.node.scope; scope && !scopes.has(scope); scope = scope.node.scope) scopes.add(scope);
    }
    return [...scopes].flatMap((scope) => recordedProblems(scope));
  }

  private policyProblems(): PolicyIssue[] {
    try {
      // Rendering, not only compiling: the render self-check runs here and its findings are
      // reported with the other problems.
      this._as3Json();
      return [];
    } catch (e) {
      if (e instanceof EgressPolicyError) return [...e.issues];
      throw e;
    }
  }

  /**
   * Warns of every rule that has expired (it is not enforced) or expires within the warning
   * window; an expired rule is a problem only under guardrails with `expiredRules: FAIL`.
   */
  private expiryProblems(): PolicyIssue[] {
    const now = new Date();
    const issues: PolicyIssue[] = [];
    for (const construct of this.ruleConstructs) {
      const model = (construct as unknown as { _model?: RuleModel })._model;
      if (!model?.expiresAt) continue;
      const settings = this.expirySettingsOf(construct);
      const warningDays = settings.length ? Math.max(...settings.map((s) => s.warningDays)) : EXPIRY_WARNING_DAYS_DEFAULT;
      const notice = expiryNotice(model, now, warningDays);
      if (!notice) continue;
      const failing = notice.kind === 'expired' ? settings.find((s) => s.failExpired) : undefined;
      if (failing) {
        issues.push({
          path: model.path,
          field: 'expiresAt',
          value: quote(model.expiresAt),
          message: `${notice.message} (guardrails "${failing.name}" refuse expired rules: expiredRules is FAIL)`,
        });
      } else if (!this.warned.has(construct)) {
        this.warned.add(construct);
        Annotations.of(construct).addWarning(`expiresAt: ${notice.message}`);
      }
    }
    return issues;
  }

  /** The expiry settings of the guardrail sets applied to `rule` or its ancestors. */
  private expirySettingsOf(rule: IConstruct): ExpirySettings[] {
    const out: ExpirySettings[] = [];
    for (let scope: IConstruct | undefined = rule; scope; scope = scope.node.scope) {
      for (const aspect of Aspects.of(scope).all) {
        const settings = (aspect as unknown as Record<symbol, ExpirySettings | undefined>)[EXPIRY_SETTINGS];
        if (settings) out.push(settings);
      }
    }
    return out;
  }

  private writeArtifact(session: ISynthesisSession): void {
    // Fail closed when validation is skipped too: nothing of a device with problems is written.
    const problems = this.synthProblems();
    if (problems.length) throw new EgressSynthError(problems);
    const dir = path.join(session.outdir, session.manifest.forStack(TerraformStack.of(this)).workingDirectory, ARTIFACT_DIR);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${this.tenant}.json`), `${JSON.stringify(this._artifact())}\n`);
  }
}
