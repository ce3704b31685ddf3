import { Construct } from 'constructs';
import { TerraformStack } from 'cdktf';
import { KubernetesProvider, KubernetesProviderConfig } from '@cdktf/provider-kubernetes/lib/provider';
import { z } from 'zod';
import { ALL_KINDS, customResourceDefinition } from '../k8s/crds';
import { parseProps, throwIssues } from '../policy/device';
import { formatIssue } from '../policy/errors';
import { struct } from '../policy/schema';
import { prototypePollutionIssues, readStruct } from '../policy/struct';
import { misplacedProps } from './connection';
import { KubernetesManifest } from './kubernetes-manifest';
import { refused } from './problems';

const CRD_STACK_SYMBOL = Symbol.for('cdktf-ces.EgressCrdStack');

/** The fields of the kubernetes provider's configuration (KubernetesProviderConfig). */
const KUBERNETES_PROVIDER_FIELDS = [
  'alias',
  'clientCertificate',
  'clientKey',
  'clusterCaCertificate',
  'configContext',
  'configContextAuthInfo',
  'configContextCluster',
  'configPath',
  'configPaths',
  'exec',
  'experiments',
  'host',
  'ignoreAnnotations',
  'ignoreLabels',
  'insecure',
  'password',
  'proxyUrl',
  'tlsServerName',
  'token',
  'username',
] as const;

const crdStackSchema = z.strictObject({
  // The provider's own configuration, passed through as given: its values (and tokens such as
  // another resource's endpoint) are the kubernetes provider's to check, but a field it does
  // not have would be dropped (a misspelled configPath sends the CRDs to the default cluster).
  kubernetes: struct(z.strictObject(Object.fromEntries(KUBERNETES_PROVIDER_FIELDS.map((f) => [f, z.unknown().optional()]))), {
    what: 'the kubernetes provider configuration',
    expected: 'the kubernetes provider configuration, such as { configPath: "~/.kube/config", configContext: "prod" }',
  }).optional(),
});
const CRD_STACK_FIELDS = Object.keys(crdStackSchema.shape);
const CRD_STACK_HINTS = { what: 'an EgressCrdStack', expected: '{ kubernetes? }', misplaced: misplacedProps(CRD_STACK_FIELDS) };

/** Props of {@link EgressCrdStack}. */
export interface EgressCrdStackProps {
  /**
   * How Terraform reaches the cluster for the CRDs.
   * @default - the kubernetes provider's own defaults (KUBE_CONFIG_PATH and friends)
   */
  readonly kubernetes?: KubernetesProviderConfig;
}

/**
 * A stack holding the CustomResourceDefinitions of the rule kinds.
 *
 * The Terraform kubernetes provider reads a kind's schema from the cluster when it plans a
 * `kubernetes_manifest`, so a custom resource cannot be planned before its CRD exists. The
 * CRDs therefore get a stack of their own, and every stack with an {@link AfmDevice} depends
 * on it: `cdktf deploy '*'` applies this stack first, and an empty cluster works in one run.
 * Each CRD counts as applied only once it is Established (until then discovery does not list
 * its kind, and the rule stack's plan would not find it).
 */
export class EgressCrdStack extends TerraformStack {
  /** Whether `x` is an EgressCrdStack (works across copies of this library). */
  public static isEgressCrdStack(x: unknown): x is EgressCrdStack {
    return typeof x === 'object' && x !== null && CRD_STACK_SYMBOL in x;
  }

  constructor(scope: Construct, id: string, props: EgressCrdStackProps = {}) {
    super(scope, id);
    Object.defineProperty(this, CRD_STACK_SYMBOL, { value: true });
    // Own keys only: a kubernetes config other code put on Object.prototype is not this stack's.
    const { value: p, issues } = parseProps(crdStackSchema, readStruct(props, '').data ?? props, this.node.path, CRD_STACK_HINTS);
    // Provider settings may be credentials: their values never reach a message (nor CI logs).
    const shown = issues.map((i) => (i.field.startsWith('kubernetes.') ? { ...i, value: '(value not shown)' } : i));
    // Reported at synth with every other problem of the app; a refused stack holds nothing,
    // and the devices that depend on it are not built.
    if (refused(this, () => throwIssues(shown, CRD_STACK_FIELDS))) return;
    // Every app has one EgressCrdStack: the place to refuse a polluted Object.prototype at synth.
    this.node.addValidation({ validate: () => prototypePollutionIssues('').map(formatIssue) });
    const kubernetes =
      p && Object.prototype.hasOwnProperty.call(p, 'kubernetes') ? (p.kubernetes as KubernetesProviderConfig | undefined) : undefined;
    new KubernetesProvider(this, 'kubernetes', kubernetes ?? {});
    for (const kind of ALL_KINDS) {
      const crd = customResourceDefinition(kind);
      new KubernetesManifest(this, kind, {
        manifest: crd as Record<string, unknown>,
        // A new CRD is served but not in discovery until Established (5 s "Installing" with
        // several API servers), and the provider maps kinds through discovery when it plans
        // the rule stack: the CRD counts as created only once Established (the provider's
        // `wait { condition }`, manifest/provider/waiter.go ConditionsWaiter).
        wait: { condition: [{ type: 'Established', status: 'True' }] },
        // The definitions are this stack's alone: a field someone else set by hand is taken back.
        fieldManager: { forceConflicts: true },
      });
    }
  }
}
