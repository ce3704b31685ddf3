import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { BIGIP_GENERATOR_METADATA, hclAttributes, hclBoolean, hclString } from './provider';

export interface BigipAs3Config extends cdktf.TerraformMetaArguments {
  /** The AS3 request or declaration, as a JSON string. */
  readonly as3Json: string;
  /** Only this tenant of the declaration is managed. */
  readonly tenantFilter?: string;
  /**
   * Ignore metadata-only changes when diffing: `updateMode`, `schemaVersion`, `id`, `label`,
   * `remark`, `persist`, and Common when the JSON declares none (provider 1.28:
   * `stripAS3Metadata`).
   */
  readonly ignoreMetadata?: boolean | cdktf.IResolvable;
}

/**
 * `bigip_as3`: posts an AS3 declaration and keeps its tenants in Terraform state.
 * @see https://registry.terraform.io/providers/F5Networks/bigip/latest/docs/resources/bigip_as3
 */
export class BigipAs3 extends cdktf.TerraformResource {
  public static readonly tfResourceType = 'bigip_as3';

  private readonly config: BigipAs3Config;

  constructor(scope: Construct, id: string, config: BigipAs3Config) {
    super(scope, id, {
      terraformResourceType: 'bigip_as3',
      terraformGeneratorMetadata: BIGIP_GENERATOR_METADATA,
      provider: config.provider,
      dependsOn: config.dependsOn,
      count: config.count,
      lifecycle: config.lifecycle,
      provisioners: config.provisioners,
      connection: config.connection,
      forEach: config.forEach,
    });
    this.config = config;
  }

  /** Tenants the declaration manages (also the resource id). */
  public get tenantList(): string {
    return this.getStringAttribute('tenant_list');
  }

  /** Id of the last AS3 task. */
  public get taskId(): string {
    return this.getStringAttribute('task_id');
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    return {
      as3_json: cdktf.stringToTerraform(this.config.as3Json),
      tenant_filter: cdktf.stringToTerraform(this.config.tenantFilter),
      ignore_metadata: cdktf.booleanToTerraform(this.config.ignoreMetadata),
    };
  }

  protected override synthesizeHclAttributes(): { [name: string]: unknown } {
    return hclAttributes({
      as3_json: hclString(this.config.as3Json),
      tenant_filter: hclString(this.config.tenantFilter),
      ignore_metadata: hclBoolean(this.config.ignoreMetadata),
    });
  }
}
