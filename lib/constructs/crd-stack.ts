import { Construct } from 'constructs';
import { TerraformStack } from 'cdktf';
import { KubernetesProvider, KubernetesProviderConfig } from '@cdktf/provider-kubernetes/lib/provider';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { z } from 'zod';
import { ALL_KINDS, customResourceDefinition } from '../k8s/crds';
import { parseProps, throwIssues } from '../policy/device';
import { misplacedProps } from './connection';

const CRD_STACK_SYMBOL = Symbol.for('cdktf-ces.EgressCrdStack');

const crdStackSchema = z.strictObject({
  // The provider's own configuration, passed through as given: its fields (and tokens such as
  // another resource's endpoint) are the kubernetes provider's to check.
  kubernetes: z
    .custom<KubernetesProviderConfig>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
      error: 'expected the kubernetes provider configuration, such as { configPath: "~/.kube/config", configContext: "prod" }',
    })
    .optional(),
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
 */
export class EgressCrdStack extends TerraformStack {
  /** Whether `x` is an EgressCrdStack (works across copies of this library). */
  public static isEgressCrdStack(x: unknown): x is EgressCrdStack {
    return typeof x === 'object' && x !== null && CRD_STACK_SYMBOL in x;
  }

  constructor(scope: Construct, id: string, props: EgressCrdStackProps = {}) {
    super(scope, id);
    Object.defineProperty(this, CRD_STACK_SYMBOL, { value: true });
    const { value: p, issues } = parseProps(crdStackSchema, props, this.node.path, CRD_STACK_HINTS);
    throwIssues(issues, CRD_STACK_FIELDS);
    new KubernetesProvider(this, 'kubernetes', p?.kubernetes ?? {});
    for (const kind of ALL_KINDS) {
      const crd = customResourceDefinition(kind);
      new Manifest(this, kind, { manifest: crd as Record<string, unknown> });
    }
  }
}
