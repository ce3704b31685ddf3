/**
 * Hand-written cdktf binding of the F5Networks/bigip Terraform provider, in the shape
 * `cdktf get` generates. Only what this library needs: the provider, `bigip_as3` and
 * `bigip_command`. (The provider registry is not reachable from every build machine, and
 * no prebuilt binding exists.)
 *
 * @see https://registry.terraform.io/providers/F5Networks/bigip/latest/docs
 */
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';

/**
 * Shared by the provider and its resources: cdktf matches resources to providers by it. 1.28.0
 * is the first release whose `ignore_metadata` also ignores the Common that AS3 returns with a
 * tenant (F5Networks/terraform-provider-bigip f80e4f6c); earlier 1.x releases show a change on
 * every plan of a shared BIG-IP (provider issues #869, #972, #1148).
 */
export const BIGIP_GENERATOR_METADATA: cdktf.TerraformProviderGeneratorMetadata = {
  providerName: 'bigip',
  providerVersionConstraint: '>= 1.28.0, < 2.0.0',
};

export interface BigipProviderConfig {
  /** Domain name or IP of the BIG-IP (env `BIGIP_HOST`). */
  readonly address?: string;
  /** Management port (env `BIGIP_PORT`). */
  readonly port?: string;
  /** Username (env `BIGIP_USER`). */
  readonly username?: string;
  /** Password (env `BIGIP_PASSWORD`). Pass a sensitive variable reference, never a literal. */
  readonly password?: string;
  /** Use token authentication (env `BIGIP_TOKEN_AUTH`). */
  readonly tokenAuth?: boolean | cdktf.IResolvable;
  /** Login reference for token authentication (env `BIGIP_LOGIN_REF`). */
  readonly loginRef?: string;
  /** Turns TLS certificate checks off (env `BIGIP_VERIFY_CERT_DISABLE`). */
  readonly validateCertsDisable?: boolean | cdktf.IResolvable;
  /**
   * CA bundle used to verify the BIG-IP's certificate (env `BIGIP_TRUSTED_CERT_PATH`). The
   * provider loads it only when it logs in with username and password (go-bigip: not with
   * `token_value`), and Go checks the certificate's SAN against `address` (an IP SAN for an IP).
   */
  readonly trustedCertPath?: string;
  /** Timeout of AS3 calls, seconds (env `API_TIMEOUT`). */
  readonly apiTimeout?: number;
  /** Token lifetime, seconds (env `TOKEN_TIMEOUT`). */
  readonly tokenTimeout?: number;
  /** Retries of API calls (env `API_RETRIES`). */
  readonly apiRetries?: number;
  /** Disables F5 telemetry (env `TEEM_DISABLE`). */
  readonly teemDisable?: boolean | cdktf.IResolvable;
  /** Provider alias. */
  readonly alias?: string;
}

type HclAttr = { value: unknown; isBlock: false; type: 'simple'; storageClassType: 'string' | 'boolean' | 'number' | 'stringList' };

/** HCL attribute descriptors, dropping unset values as generated bindings do. */
export function hclAttributes(attrs: Record<string, HclAttr>): Record<string, HclAttr> {
  return Object.fromEntries(Object.entries(attrs).filter(([, a]) => a.value !== undefined && a.value !== null));
}

export function hclString(value: string | undefined): HclAttr {
  return { value: cdktf.stringToHclTerraform(value), isBlock: false, type: 'simple', storageClassType: 'string' };
}

export function hclBoolean(value: boolean | cdktf.IResolvable | undefined): HclAttr {
  return { value: cdktf.booleanToHclTerraform(value), isBlock: false, type: 'simple', storageClassType: 'boolean' };
}

export function hclNumber(value: number | undefined): HclAttr {
  return { value: cdktf.numberToHclTerraform(value), isBlock: false, type: 'simple', storageClassType: 'number' };
}

export function hclStringList(value: string[] | undefined): HclAttr {
  return {
    value: cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)(value),
    isBlock: false,
    type: 'simple',
    storageClassType: 'stringList',
  };
}

/** The `bigip` provider. */
export class BigipProvider extends cdktf.TerraformProvider {
  public static readonly tfResourceType = 'bigip';

  private readonly config: BigipProviderConfig;

  constructor(scope: Construct, id: string, config: BigipProviderConfig = {}) {
    super(scope, id, {
      terraformResourceType: 'bigip',
      terraformGeneratorMetadata: BIGIP_GENERATOR_METADATA,
      terraformProviderSource: 'F5Networks/bigip',
    });
    this.config = config;
  }

  public override get alias(): string | undefined {
    return this.config.alias;
  }

  protected override synthesizeAttributes(): { [name: string]: unknown } {
    const c = this.config;
    return {
      address: cdktf.stringToTerraform(c.address),
      port: cdktf.stringToTerraform(c.port),
      username: cdktf.stringToTerraform(c.username),
      password: cdktf.stringToTerraform(c.password),
      token_auth: cdktf.booleanToTerraform(c.tokenAuth),
      login_ref: cdktf.stringToTerraform(c.loginRef),
      validate_certs_disable: cdktf.booleanToTerraform(c.validateCertsDisable),
      trusted_cert_path: cdktf.stringToTerraform(c.trustedCertPath),
      api_timeout: cdktf.numberToTerraform(c.apiTimeout),
      token_timeout: cdktf.numberToTerraform(c.tokenTimeout),
      api_retries: cdktf.numberToTerraform(c.apiRetries),
      teem_disable: cdktf.booleanToTerraform(c.teemDisable),
      alias: cdktf.stringToTerraform(c.alias),
    };
  }

  protected override synthesizeHclAttributes(): { [name: string]: unknown } {
    const c = this.config;
    return hclAttributes({
      address: hclString(c.address),
      port: hclString(c.port),
      username: hclString(c.username),
      password: hclString(c.password),
      token_auth: hclBoolean(c.tokenAuth),
      login_ref: hclString(c.loginRef),
      validate_certs_disable: hclBoolean(c.validateCertsDisable),
      trusted_cert_path: hclString(c.trustedCertPath),
      api_timeout: hclNumber(c.apiTimeout),
      token_timeout: hclNumber(c.tokenTimeout),
      api_retries: hclNumber(c.apiRetries),
      teem_disable: hclBoolean(c.teemDisable),
      alias: hclString(c.alias),
    });
  }
}
