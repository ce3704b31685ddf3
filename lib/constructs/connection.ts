import { Construct } from 'constructs';
import { Annotations } from 'cdktf';
import { BigipProvider } from '../../providers/bigip/provider';
import { PolicyIssue, quote } from '../policy/errors';
import { BigipCredentials } from './credentials';

const HOST = /^(([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

/** How Terraform reaches a BIG-IP's management interface. */
export interface BigipConnectionProps {
  /** Management address of the BIG-IP: a host name or IP address, without scheme or port. */
  readonly address?: string;
  /**
   * Management port.
   * @default 443
   */
  readonly port?: number;
  /**
   * Where the provider gets the BIG-IP credentials.
   * @default - sensitive Terraform variables `<tenant>_username` and `<tenant>_password`
   */
  readonly credentials?: BigipCredentials;
  /**
   * CA bundle (PEM file on the machine that runs Terraform) that signs the BIG-IP's
   * management certificate. Required unless `insecureSkipTlsVerify` is set.
   * @default - none; synth fails unless insecureSkipTlsVerify is true
   */
  readonly tlsCaBundlePath?: string;
  /**
   * Turns off TLS certificate verification of the management connection. Lab use only: a
   * warning is recorded on the construct.
   * @default false
   */
  readonly insecureSkipTlsVerify?: boolean;
}

export const CONNECTION_FIELDS: readonly (keyof BigipConnectionProps)[] = ['address', 'port', 'credentials', 'tlsCaBundlePath', 'insecureSkipTlsVerify'];

/** Problems of connection props, each naming the field, the value and the fix. */
export function connectionIssues(props: BigipConnectionProps, path: string): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const add = (field: string, value: unknown, message: string) => issues.push({ path, field, value: quote(value), message });
  if (typeof props.address !== 'string' || !HOST.test(props.address)) {
    add('address', props.address, 'must be a host name or IP address without scheme, port or path, such as "bigip.example.com"');
  }
  if (props.port !== undefined && (!Number.isInteger(props.port) || props.port < 1 || props.port > 65535)) {
    add('port', props.port, 'must be a whole number from 1 to 65535');
  }
  if (!props.tlsCaBundlePath && !props.insecureSkipTlsVerify) {
    add(
      'tlsCaBundlePath',
      undefined,
      'TLS verification is on by default and needs the CA bundle that signs the BIG-IP certificate; set tlsCaBundlePath (or, in a lab only, insecureSkipTlsVerify: true)',
    );
  }
  if (props.tlsCaBundlePath && props.insecureSkipTlsVerify) add('insecureSkipTlsVerify', true, 'contradicts tlsCaBundlePath; set only one of them');
  return issues;
}

/** The `bigip` provider for a connection, aliased so several devices can share a stack. */
export function bigipProvider(scope: Construct, alias: string, props: BigipConnectionProps): BigipProvider {
  if (props.insecureSkipTlsVerify) {
    Annotations.of(scope).addWarning('TLS verification of the BIG-IP management connection is off (insecureSkipTlsVerify). Use tlsCaBundlePath outside a lab.');
  }
  const credentials = (props.credentials ?? BigipCredentials.fromVariables())._bind(scope, alias);
  return new BigipProvider(scope, 'Provider', {
    alias,
    address: props.address,
    port: props.port !== undefined ? String(props.port) : undefined,
    username: credentials.username,
    password: credentials.password,
    tokenAuth: true,
    validateCertsDisable: props.insecureSkipTlsVerify === true,
    trustedCertPath: props.tlsCaBundlePath,
    teemDisable: true,
  });
}
