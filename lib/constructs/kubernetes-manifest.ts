import {
  anyToHclTerraform,
  anyToTerraform,
  hashMapper,
  hashMapperHcl,
  ITerraformDependable,
  TerraformProvider,
  TerraformResource,
  TerraformResourceLifecycle,
} from 'cdktf';
import {
  Manifest,
  ManifestFieldManager,
  manifestFieldManagerToHclTerraform,
  manifestFieldManagerToTerraform,
  ManifestWait,
  manifestWaitToHclTerraform,
  manifestWaitToTerraform,
} from '@cdktf/provider-kubernetes/lib/manifest';
import { Construct } from 'constructs';

/** The inputs of a `kubernetes_manifest` the library sets. */
export interface KubernetesManifestConfig {
  readonly manifest: Record<string, unknown>;
  readonly fieldManager?: ManifestFieldManager;
  readonly wait?: ManifestWait;
  readonly dependsOn?: ITerraformDependable[];
  readonly lifecycle?: TerraformResourceLifecycle;
  readonly provider?: TerraformProvider;
}

/**
 * A `kubernetes_manifest` resource with the inputs the library sets, mapped to Terraform by the
 * provider binding's own functions, so the JSON is the binding's byte for byte
 * (test/bench/synth-output.test.ts pins it).
 *
 * Why not the binding's `Manifest`: its constructor creates five output-reference objects
 * (wait_for, field_manager, timeouts, wait and wait's condition list), and cdktf captures and
 * formats a creation stack trace of unlimited depth for each, kept for the life of the app.
 * With one resource per rule that was the largest single cost of synth (1.3 s of 7.9 s CPU
 * at 10,000 rules, docs/benchmarks.md). Nothing reads those references: the constructs expose
 * the resource as a `TerraformResource`, whose `getAnyMapAttribute('object')` and the like
 * still reach every attribute.
 */
export class KubernetesManifest extends TerraformResource {
  private readonly config: KubernetesManifestConfig;

  constructor(scope: Construct, id: string, config: KubernetesManifestConfig) {
    super(scope, id, {
      terraformResourceType: Manifest.tfResourceType,
      // cdktf's check that the stack configures a kubernetes provider reads the name.
      terraformGeneratorMetadata: { providerName: 'kubernetes' },
      provider: config.provider,
      dependsOn: config.dependsOn,
      lifecycle: config.lifecycle,
    });
    this.config = config;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      manifest: hashMapper(anyToTerraform)(this.config.manifest),
      field_manager: manifestFieldManagerToTerraform(this.config.fieldManager),
      wait: manifestWaitToTerraform(this.config.wait),
    };
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    const attrs = {
      manifest: { value: hashMapperHcl(anyToHclTerraform)(this.config.manifest), isBlock: false, type: 'map', storageClassType: 'anyMap' },
      field_manager: {
        value: manifestFieldManagerToHclTerraform(this.config.fieldManager),
        isBlock: true,
        type: 'list',
        storageClassType: 'ManifestFieldManagerList',
      },
      wait: { value: manifestWaitToHclTerraform(this.config.wait), isBlock: true, type: 'list', storageClassType: 'ManifestWaitList' },
    };
    return Object.fromEntries(Object.entries(attrs).filter(([, a]) => a.value !== undefined));
  }
}
