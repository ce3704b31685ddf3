import { Construct } from 'constructs';
import { TerraformVariable } from 'cdktf';
import { EgressPolicyError, quote } from '../policy/errors';

const TERRAFORM_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Resolved provider arguments; never literal secrets. */
export interface BoundCredentials {
  readonly username?: string;
  readonly password?: string;
}

/** Names of the Terraform variables that hold the BIG-IP credentials. */
export interface BigipCredentialVariableNames {
  /**
   * Name of the Terraform variable with the username.
   * @default - `<tenant>_username`
   */
  readonly usernameVariable?: string;
  /**
   * Name of the sensitive Terraform variable with the password.
   * @default - `<tenant>_password`
   */
  readonly passwordVariable?: string;
}

/**
 * How the BIG-IP provider gets its credentials. There is deliberately no way to pass a
 * literal password: it would land in `cdk.tf.json`.
 */
export class BigipCredentials {
  /**
   * Sensitive Terraform variables, set with `TF_VAR_<name>` or a `.tfvars` file at deploy time.
   */
  public static fromVariables(names: BigipCredentialVariableNames = {}): BigipCredentials {
    return new BigipCredentials('variables', names);
  }

  /**
   * The provider's environment: `BIGIP_USER` and `BIGIP_PASSWORD` (or `BIGIP_TOKEN_VALUE`).
   * Nothing about credentials is written to the synthesized configuration.
   */
  public static fromEnvironment(): BigipCredentials {
    return new BigipCredentials('environment', {});
  }

  private constructor(
    private readonly source: 'variables' | 'environment',
    private readonly names: BigipCredentialVariableNames,
  ) {}

  /**
   * Creates what the provider needs under `scope`.
   * @internal
   */
  public _bind(scope: Construct, defaultPrefix: string): BoundCredentials {
    if (this.source === 'environment') return {};
    for (const field of ['usernameVariable', 'passwordVariable'] as const) {
      const name = this.names[field];
      if (name !== undefined && !TERRAFORM_IDENTIFIER.test(name)) {
        throw new EgressPolicyError([
          { path: scope.node.path, field: `credentials.${field}`, value: quote(name), message: 'must be a Terraform variable name: a letter or "_", then letters, digits, "_" or "-"' },
        ]);
      }
    }
    const username = new TerraformVariable(scope, 'BigipUsername', {
      type: 'string',
      description: 'BIG-IP username for AS3 and tmsh',
      nullable: false,
    });
    username.overrideLogicalId(this.names.usernameVariable ?? `${defaultPrefix}_username`);
    const password = new TerraformVariable(scope, 'BigipPassword', {
      type: 'string',
      description: 'BIG-IP password',
      sensitive: true,
      nullable: false,
    });
    password.overrideLogicalId(this.names.passwordVariable ?? `${defaultPrefix}_password`);
    return { username: username.stringValue, password: password.stringValue };
  }
}
