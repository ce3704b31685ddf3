import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { BIGIP_GENERATOR_METADATA, hclAttributes, hclString, hclStringList } from './provider';

export interface BigipCommandConfig extends cdktf.TerraformMetaArguments {
  /**
   * tmsh commands, without the leading `tmsh`. The provider runs each as `-c 'tmsh <command>'`,
   * so a command must not contain a single quote.
   */
  readonly commands: string[];
  /** `apply` (run on create and update) or `destroy` (run on destroy). Defaults to `apply`. */
  readonly when?: string;
}

/**
 * `bigip_command`: runs tmsh commands on apply or on destroy.
 * @see https://registry.terraform.io/providers/F5Networks/bigip/latest/docs/resources/bigip_command
 */
export class BigipCommand extends cdktf.TerraformResource {
  public static readonly tfResourceType = 'bigip_command';

  private readonly config: BigipCommandConfig;

  constructor(scope: Construct, id: string, config: BigipCommandConfig) {
    super(scope, id, {
      terraformResourceType: 'bigip_command',
      terraformGeneratorMetadata: BIGIP_GENERATOR_METADATA,
      provider: config.provider,
      dependsOn: config.dependsOn,
      count: config.count,
      lifecycle: config.lifecycle,
      provisioners: config.provisioners,
      connection: config.connection,
      forEach: config.forEach,
    });
    for (const c of config.commands) {
      if (!cdktf.Token.isUnresolved(c) && c.includes("'")) {
        throw new Error(`[${this.node.path}] commands: a tmsh command must not contain a single quote (got ${JSON.stringify(c)})`);
      }
    }
    this.config = config;
  }

  /** Output of each command. */
  public get commandResult(): string[] {
    return this.getListAttribute('command_result');
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    return {
      commands: cdktf.listMapper(cdktf.stringToTerraform, false)(this.config.commands),
      when: cdktf.stringToTerraform(this.config.when),
    };
  }

  protected override synthesizeHclAttributes(): { [name: string]: unknown } {
    return hclAttributes({
      commands: hclStringList(this.config.commands),
      when: hclString(this.config.when),
    });
  }
}
