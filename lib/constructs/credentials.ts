import { Construct } from 'constructs';
import { TerraformVariable } from 'cdktf';
import { quote } from '../policy/errors';
import { unknownKeyMessage } from '../policy/schema';

const TERRAFORM_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Names Terraform does not allow for a variable. */
const RESERVED_VARIABLE_NAMES = ['source', 'version', 'providers', 'count', 'for_each', 'lifecycle', 'depends_on', 'locals'];
const VARIABLE_NAME_FIELDS = ['usernameVariable', 'passwordVariable'] as const;
const CREDENTIALS_SYMBOL = Symbol.for('cdktf-ces.BigipCredentials');

/** A problem of credentials: the field inside them (`passwordVariable`, or empty for the whole value). */
type CredentialsProblem = { readonly field: string; readonly value: string; readonly message: string };

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
  /** Whether `x` is a BigipCredentials (works across copies of this library). */
  public static isBigipCredentials(x: unknown): x is BigipCredentials {
    return typeof x === 'object' && x !== null && CREDENTIALS_SYMBOL in x;
  }

  /**
   * Sensitive Terraform variables, set with `TF_VAR_<name>` or a `.tfvars` file at deploy time.
   * The names are checked by the construct that receives the credentials.
   */
  public static fromVariables(names: BigipCredentialVariableNames = {}): BigipCredentials {
    // A copy: later changes to the caller's object must not change validated names.
    return new BigipCredentials('variables', typeof names === 'object' && names !== null && !Array.isArray(names) ? { ...names } : names);
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
  ) {
    Object.defineProperty(this, CREDENTIALS_SYMBOL, { value: true });
  }

  /**
   * Every problem of the variable names (checked by the receiving construct, which knows its path).
   * @internal
   */
  public _problems(): CredentialsProblem[] {
    if (this.source === 'environment') return [];
    const names: unknown = this.names;
    if (typeof names !== 'object' || names === null || Array.isArray(names)) {
      return [
        {
          field: '',
          value: quote(names),
          message:
            'BigipCredentials.fromVariables() takes { usernameVariable?, passwordVariable? }: pass the variable names that way, or nothing for the default names',
        },
      ];
    }
    const problems: CredentialsProblem[] = [];
    for (const key of Object.keys(names)) {
      if (!(VARIABLE_NAME_FIELDS as readonly string[]).includes(key)) {
        problems.push({
          field: key,
          value: quote((names as Record<string, unknown>)[key]),
          message: unknownKeyMessage(key, VARIABLE_NAME_FIELDS, { what: 'BigipCredentialVariableNames' }),
        });
      }
    }
    for (const field of VARIABLE_NAME_FIELDS) {
      const name: unknown = (names as Record<string, unknown>)[field];
      if (name === undefined) continue;
      if (typeof name !== 'string' || !TERRAFORM_IDENTIFIER.test(name)) {
        problems.push({
          field,
          value: quote(name),
          message: 'must be a Terraform variable name: a letter or "_", then letters, digits, "_" or "-"',
        });
      } else if (RESERVED_VARIABLE_NAMES.includes(name)) {
        problems.push({
          field,
          value: quote(name),
          message: `is reserved by Terraform (${RESERVED_VARIABLE_NAMES.join(', ')}); choose another name`,
        });
      }
    }
    const { usernameVariable, passwordVariable } = names as BigipCredentialVariableNames;
    if (usernameVariable !== undefined && usernameVariable === passwordVariable) {
      problems.push({
        field: 'passwordVariable',
        value: quote(passwordVariable),
        message: 'must differ from usernameVariable, since one variable cannot hold both: give the password a variable of its own',
      });
    }
    return problems;
  }

  /**
   * Creates what the provider needs under `scope` (after {@link _problems} found none).
   * @internal
   */
  public _bind(scope: Construct, defaultPrefix: string): BoundCredentials {
    if (this.source === 'environment') return {};
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
