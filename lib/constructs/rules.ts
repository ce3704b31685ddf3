import { Construct } from 'constructs';
import { TerraformResource, TerraformStack } from 'cdktf';
import { ruleResource } from '../k8s/resources';
import { EgressDestination, isEgressDestination } from '../policy/destination';
import { EgressAction, EgressBandwidthLimit, EgressSchedule, LabelSelector } from '../policy/enums';
import type { EgressSnat } from '../policy/device';
import { EgressPolicyError, PolicyIssue, formatIssue, quote } from '../policy/errors';
import type { Level, RuleModel } from '../policy/model';
import { EgressIRule } from '../policy/irule';
import { EgressPort } from '../policy/port';
import { EgressRedirect } from '../policy/redirect';
import { readRuleProps, ruleFromProps } from '../policy/schema';
import { describe, prototypePollutionIssues } from '../policy/struct';
import { AfmDevice } from './afm-device';
import { checkedConstructId } from './construct-id';
import { KubernetesManifest, KubernetesManifestConfig } from './kubernetes-manifest';
import { ExternalService } from './external-service';
import { collectProblems, isRefused, markUnbuilt } from './problems';

/** Props shared by every egress rule. */
export interface EgressRuleProps {
  /** The BIG-IP that enforces the rule; must be in the same stack. */
  readonly device: AfmDevice;
  /**
   * Rule name: a DNS label, unique per level (per namespace for namespace and service rules).
   * It names the custom resource and the AFM rule.
   * @default - the construct id in kebab case (`AllowDns` → `allow-dns`)
   */
  readonly name?: string;
  /** What happens to matching traffic. */
  readonly action: EgressAction;
  /**
   * Order within the level: lower first (0–1000); ties are broken by name.
   * @default 500
   */
  readonly priority?: number;
  /** Where the traffic goes; at least one. */
  readonly destinations: EgressDestination[];
  /**
   * Protocols and destination ports.
   * @default - every protocol and port
   */
  readonly ports?: EgressPort[];
  /**
   * Log every match through the device's security log profile.
   * @default false
   */
  readonly logging?: boolean;
  /**
   * Audit mode: the rule is rendered into the staged policies only; it reports what it would
   * have done and never changes a verdict.
   * @default false
   */
  readonly audit?: boolean;
  /**
   * Short description (at most 64 characters), shown as the AFM rule's remark.
   * @default - no description
   */
  readonly description?: string;
  /**
   * Bandwidth cap for the traffic the rule allows.
   * @default - no limit
   */
  readonly bandwidthLimit?: EgressBandwidthLimit;
  /**
   * Next hops for the traffic the rule matches (ALLOW and ALLOW_FINAL rules only), instead of
   * the device's gateways: such as an inspection proxy pool or a partner gateway. The verdict
   * is still decided by the whole policy. IPv4 only; see docs/redirection.md.
   * @default - the device's gateways (or its routing table)
   */
  readonly redirect?: EgressRedirect;
  /**
   * iRule code AFM runs when the rule matches a flow (FLOW_INIT), for example to log or tag it.
   * Exactly one `when FLOW_INIT { … }` that does not change the verdict; see docs/irules.md.
   * @default - no iRule (a bandwidth limit still gets its own)
   */
  readonly onMatch?: EgressIRule;
  /**
   * Recurring time window; outside it the rule matches nothing.
   * @default - always
   */
  readonly schedule?: EgressSchedule;
  /**
   * ISO-8601 instant from which the rule is not enforced; synth warns ahead and after it.
   * @default - never expires
   */
  readonly expiresAt?: string;
  /**
   * Who owns the rule (team or person).
   * @default - no owner
   */
  readonly owner?: string;
  /**
   * Change or ticket reference.
   * @default - no ticket
   */
  readonly ticket?: string;
  /**
   * Why the rule exists.
   * @default - no justification
   */
  readonly justification?: string;
  /**
   * The source addresses the traffic this rule allows leaves with, for partners that allowlist
   * them: `EgressSnat.pool([...])` (ALLOW and ALLOW_FINAL rules with tcp, udp or no ports).
   * Rendered as an AFM NAT rule; the device's `snat` must then be a pool or none. An allowed flow
   * takes the translation of the first rule with `snat` that matches it (cluster, namespace,
   * service rules, each in rule order), else the device's.
   * @default - the device's snat
   */
  readonly snat?: EgressSnat;
}

/** Props of {@link ClusterEgressRule}. */
export interface ClusterEgressRuleProps extends EgressRuleProps {
  /**
   * Only pods in namespaces with these labels.
   * @default - every namespace
   */
  readonly namespaceSelector?: LabelSelector;
  /**
   * Only pods with these labels.
   * @default - every pod
   */
  readonly podSelector?: LabelSelector;
}

/** Props of {@link NamespaceEgressRule}. */
export interface NamespaceEgressRuleProps extends EgressRuleProps {
  /** Namespace whose pods the rule applies to. */
  readonly namespace: string;
  /**
   * Only pods with these labels.
   * @default - every pod of the namespace
   */
  readonly podSelector?: LabelSelector;
}

/** Props of {@link ServiceEgressRule}. */
export interface ServiceEgressRuleProps extends EgressRuleProps {
  /** Namespace of the Service. */
  readonly namespace: string;
  /** Service whose selector picks the source pods (ready or not). */
  readonly service: string;
}

const RULE_SYMBOL = Symbol.for('cdktf-ces.EgressRule');

/**
 * Shared construction of the three rule kinds: validate and register. `props` is taken exactly
 * as the caller passed it (never spread: that would drop what must be refused).
 */
function defineRule(scope: Construct, level: Level, props: unknown): { model: RuleModel; device: AfmDevice } {
  Object.defineProperty(scope, RULE_SYMBOL, { value: level });
  // A refused rule is reported at synth with every other problem of the app; it has no model,
  // no resource and is not on its device, so it renders nothing.
  return collectProblems(scope, () => checkedRule(scope, level, props)) ?? ({} as { model: RuleModel; device: AfmDevice });
}

function checkedRule(scope: Construct, level: Level, props: unknown): { model: RuleModel; device: AfmDevice } | undefined {
  const path = scope.node.path;
  // At construction and again at synth: the pollution may come after the rule.
  const polluted = prototypePollutionIssues(path);
  if (polluted.length) throw new EgressPolicyError(polluted);
  scope.node.addValidation({ validate: () => prototypePollutionIssues('').map(formatIssue) });
  const read = readRuleProps(level, path, props);
  const device = read.device;
  const referenceIssues = referenceProblems(scope, device, read.destinations);
  // A destination that refers to a refused ExternalService is that service's problem: its own
  // lines say what to fix, and the rule is checked but not built.
  const refusedServices = refusedServiceFields(read.destinations);
  let model: RuleModel | undefined;
  try {
    model = ruleFromProps(level, path, props, scope.node.id);
  } catch (e) {
    if (!(e instanceof EgressPolicyError)) throw e;
    // One issue per field: a destination that refers to no ExternalService is also an invalid value.
    const referenced = new Set([...referenceIssues.map((i) => i.field), ...refusedServices.keys()]);
    const issues = [...referenceIssues, ...e.issues.filter((i) => !referenced.has(i.field))];
    if (issues.length) throw new EgressPolicyError(issues);
  }
  if (referenceIssues.length) throw new EgressPolicyError(referenceIssues);
  // On a refused device, or with a refused ExternalService, the rule is checked but not built.
  const unbuilt = isRefused(device as AfmDevice) ? (device as AfmDevice) : [...refusedServices.values()][0];
  if (unbuilt || !model) {
    markUnbuilt(scope, unbuilt as Construct);
    return undefined;
  }
  (device as AfmDevice)._addRule(model, scope);
  return { model, device: device as AfmDevice };
}

/** The rule's custom resource. */
function ruleManifestConfig(model: RuleModel, device: AfmDevice): KubernetesManifestConfig {
  return {
    manifest: ruleResource(model, device.clusterName),
    // The spec is Terraform's: after a `kubectl edit` the next deploy takes the edited fields
    // back instead of stopping at the field-manager conflict server-side apply reports.
    fieldManager: { forceConflicts: true },
  };
}

/** Problems with the device and the external services a rule refers to (same app, stack and device). */
function referenceProblems(scope: Construct, device: unknown, destinations: unknown): PolicyIssue[] {
  const path = scope.node.path;
  const issues: PolicyIssue[] = [];
  const stack = TerraformStack.of(scope);
  if (!AfmDevice.isAfmDevice(device)) {
    return [
      {
        path,
        field: 'device',
        value: describeProp(device),
        message: 'must be an AfmDevice (created with new AfmDevice(...)) in the stack of the rule',
      },
    ];
  }
  if (device.node.root !== scope.node.root) {
    issues.push({
      path,
      field: 'device',
      value: quote(device.node.path),
      message: 'belongs to another app; create the rule in the app of its AfmDevice',
    });
  } else if (TerraformStack.of(device) !== stack) {
    issues.push({
      path,
      field: 'device',
      value: quote(device.node.path),
      message: `is in stack "${TerraformStack.of(device).node.id}", the rule in stack "${stack.node.id}"; create the rule in the device's stack`,
    });
  }
  (Array.isArray(destinations) ? destinations : []).forEach((d: unknown, i) => {
    const ref = isEgressDestination(d) ? d.externalServiceRef : undefined;
    if (!ref) return;
    if (!ExternalService.isExternalService(ref)) {
      issues.push({
        path,
        field: `destinations[${i}]`,
        value: quote(String(d)),
        message: 'must refer to an ExternalService construct (created with new ExternalService(...))',
      });
    } else if (ref.node.root !== scope.node.root) {
      issues.push({
        path,
        field: `destinations[${i}]`,
        value: quote(ref.node.path),
        message: 'is an ExternalService of another app; create it in this app',
      });
    } else if (TerraformStack.of(ref) !== stack) {
      issues.push({
        path,
        field: `destinations[${i}]`,
        value: quote(ref.node.path),
        message: `is an ExternalService in stack "${TerraformStack.of(ref).node.id}"; create it in stack "${stack.node.id}" with the rule`,
      });
    } else if (isRefused(ref)) {
      // Its own problems say what to fix; the rule is not built (checkedRule).
    } else if (ref.device !== device) {
      issues.push({
        path,
        field: `destinations[${i}]`,
        value: quote(ref.node.path),
        message: `belongs to device ${ref.device.node.path}, the rule to ${device.node.path}; attach both to the same device`,
      });
    }
  });
  return issues;
}

/** The refused (or unbuilt) ExternalServices the destinations refer to, by field. */
function refusedServiceFields(destinations: unknown): Map<string, ExternalService> {
  const out = new Map<string, ExternalService>();
  (Array.isArray(destinations) ? destinations : []).forEach((d: unknown, i) => {
    const ref = isEgressDestination(d) ? d.externalServiceRef : undefined;
    if (ExternalService.isExternalService(ref) && isRefused(ref)) out.set(`destinations[${i}]`, ref);
  });
  return out;
}

/** A construct by its path, anything else quoted. */
function describeProp(v: unknown): string {
  return Construct.isConstruct(v) ? quote(v.node.path) : describe(v);
}

/**
 * A cluster-wide rule (level 1, AFM global context): applies to every pod of the cluster,
 * optionally narrowed by namespace and pod labels. Security-team guardrails live here.
 */
export class ClusterEgressRule extends Construct {
  /** The rule name. */
  public readonly ruleName: string;
  /** The ClusterEgressRule custom resource: a `kubernetes_manifest` (its attributes through `getAnyMapAttribute`). */
  public readonly resource: TerraformResource;
  /**
   * The validated rule model.
   * @internal
   */
  public readonly _model: RuleModel;
  /**
   * The device that enforces the rule.
   * @internal
   */
  public readonly _device: AfmDevice;

  constructor(scope: Construct, id: string, props: ClusterEgressRuleProps) {
    super(scope, checkedConstructId(scope, id, 'a ClusterEgressRule'));
    const { model, device } = defineRule(this, 'cluster', props);
    this.ruleName = model?.name;
    this.resource = model
      ? new KubernetesManifest(this, 'Resource', ruleManifestConfig(model, device))
      : (undefined as unknown as TerraformResource);
    this._model = model;
    this._device = device;
  }
}

/**
 * A namespace rule (level 2, AFM route-domain context): applies to the pods of one
 * namespace, optionally narrowed by pod labels.
 */
export class NamespaceEgressRule extends Construct {
  /** The rule name. */
  public readonly ruleName: string;
  /** The NamespaceEgressRule custom resource: a `kubernetes_manifest` (its attributes through `getAnyMapAttribute`). */
  public readonly resource: TerraformResource;
  /**
   * The validated rule model.
   * @internal
   */
  public readonly _model: RuleModel;
  /**
   * The device that enforces the rule.
   * @internal
   */
  public readonly _device: AfmDevice;

  constructor(scope: Construct, id: string, props: NamespaceEgressRuleProps) {
    super(scope, checkedConstructId(scope, id, 'a NamespaceEgressRule'));
    const { model, device } = defineRule(this, 'namespace', props);
    this.ruleName = model?.name;
    this.resource = model
      ? new KubernetesManifest(this, 'Resource', ruleManifestConfig(model, device))
      : (undefined as unknown as TerraformResource);
    this._model = model;
    this._device = device;
  }
}

/**
 * A service rule (level 3, AFM virtual-server context): applies to the pods a Service selects.
 */
export class ServiceEgressRule extends Construct {
  /** The rule name. */
  public readonly ruleName: string;
  /** The ServiceEgressRule custom resource: a `kubernetes_manifest` (its attributes through `getAnyMapAttribute`). */
  public readonly resource: TerraformResource;
  /**
   * The validated rule model.
   * @internal
   */
  public readonly _model: RuleModel;
  /**
   * The device that enforces the rule.
   * @internal
   */
  public readonly _device: AfmDevice;

  constructor(scope: Construct, id: string, props: ServiceEgressRuleProps) {
    super(scope, checkedConstructId(scope, id, 'a ServiceEgressRule'));
    const { model, device } = defineRule(this, 'service', props);
    this.ruleName = model?.name;
    this.resource = model
      ? new KubernetesManifest(this, 'Resource', ruleManifestConfig(model, device))
      : (undefined as unknown as TerraformResource);
    this._model = model;
    this._device = device;
  }
}

/** The rule model and device of a rule construct, or undefined for any other construct. */
export function egressRuleOf(x: unknown): { model: RuleModel; device: AfmDevice } | undefined {
  if (typeof x !== 'object' || x === null || !(RULE_SYMBOL in x)) return undefined;
  const rule = x as unknown as { _model: RuleModel; _device: AfmDevice };
  return { model: rule._model, device: rule._device };
}
