import { Construct } from 'constructs';
import { TerraformStack } from 'cdktf';
import { KubernetesProvider, KubernetesProviderConfig } from '@cdktf/provider-kubernetes/lib/provider';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { ALL_KINDS, customResourceDefinition } from '../k8s/crds';

const CRD_STACK_SYMBOL = Symbol.for('cdktf-ces.EgressCrdStack');

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
 */
export class EgressCrdStack extends TerraformStack {
  /** Whether `x` is an EgressCrdStack (works across copies of this library). */
  public static isEgressCrdStack(x: unknown): x is EgressCrdStack {
    return typeof x === 'object' && x !== null && CRD_STACK_SYMBOL in x;
  }

  constructor(scope: Construct, id: string, props: EgressCrdStackProps = {}) {
    super(scope, id);
    Object.defineProperty(this, CRD_STACK_SYMBOL, { value: true });
    new KubernetesProvider(this, 'kubernetes', props.kubernetes ?? {});
    for (const kind of ALL_KINDS) {
      const crd = customResourceDefinition(kind);
      new Manifest(this, kind, { manifest: crd as Record<string, unknown> });
    }
  }
}
