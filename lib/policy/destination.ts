import { InvalidValueError, quote } from './errors';
import { parseFqdn } from './fqdn';
import { addressEntry, parseCidr, parseRange } from './ip';
import type { AddressModel, DestinationModel, FqdnModel } from './model';

/**
 * A named, reusable destination set (implemented by the `ExternalService` construct).
 */
export interface IExternalService {
  /** Name of the set, unique per device. */
  readonly serviceName: string;
}

type DestinationInput =
  | { readonly kind: 'address'; readonly value: string }
  | { readonly kind: 'cidr'; readonly value: string }
  | { readonly kind: 'range'; readonly first: string; readonly last: string }
  | { readonly kind: 'fqdn'; readonly value: string }
  | { readonly kind: 'externalService'; readonly service: IExternalService };

/**
 * Where egress traffic goes: an address, CIDR, range, DNS name, or a named
 * {@link IExternalService} set.
 *
 * Values are checked when a rule or external service receives them, so an error names the
 * construct path and field.
 */
export class EgressDestination {
  /** One IPv4 or IPv6 address, such as `192.0.2.10`. */
  public static address(ip: string): EgressDestination {
    return new EgressDestination({ kind: 'address', value: ip });
  }
  /** A network in CIDR notation, such as `198.51.100.0/24` or `2001:db8::/32`. Host bits must be zero. */
  public static cidr(cidr: string): EgressDestination {
    return new EgressDestination({ kind: 'cidr', value: cidr });
  }
  /** An inclusive address range of one family. */
  public static range(firstAddress: string, lastAddress: string): EgressDestination {
    return new EgressDestination({ kind: 'range', first: firstAddress, last: lastAddress });
  }
  /**
   * A DNS name, resolved by the BIG-IP's FQDN resolver. `*.example.com` matches exactly one
   * label below `example.com`; wildcards directly above a public suffix (`*.com`, `*.co.uk`,
   * `*.github.io`) are refused.
   */
  public static fqdn(name: string): EgressDestination {
    return new EgressDestination({ kind: 'fqdn', value: name });
  }
  /** Every destination of a named set. */
  public static externalService(service: IExternalService): EgressDestination {
    return new EgressDestination({ kind: 'externalService', service });
  }
  /** Every IPv4 address (`0.0.0.0/0`). */
  public static anyIpv4(): EgressDestination {
    return EgressDestination.cidr('0.0.0.0/0');
  }
  /** Every IPv6 address (`::/0`). */
  public static anyIpv6(): EgressDestination {
    return EgressDestination.cidr('::/0');
  }

  private constructor(private readonly input: DestinationInput) {}

  /** The external service this destination refers to, if any. */
  public get externalServiceRef(): IExternalService | undefined {
    return this.input.kind === 'externalService' ? this.input.service : undefined;
  }

  public toString(): string {
    switch (this.input.kind) {
      case 'range':
        return `${this.input.first}-${this.input.last}`;
      case 'externalService':
        return `externalService:${this.input.service.serviceName}`;
      default:
        return this.input.value;
    }
  }

  /**
   * Validates and converts to the policy model.
   * @internal
   */
  public _toModel(): DestinationModel {
    return destinationModel(this.input);
  }
}

function destinationModel(input: DestinationInput): DestinationModel {
  switch (input.kind) {
    case 'address': {
      requireString(input.value);
      if (input.value.includes('/')) {
        throw new InvalidValueError(quote(input.value), 'this is a CIDR; use EgressDestination.cidr()');
      }
      return toAddressModel(addressEntry(input.value));
    }
    case 'cidr':
      requireString(input.value);
      return toAddressModel(parseCidr(input.value));
    case 'range':
      requireString(input.first);
      requireString(input.last);
      return toAddressModel(parseRange(input.first, input.last));
    case 'fqdn': {
      requireString(input.value);
      const f = parseFqdn(input.value);
      const model: FqdnModel = { kind: 'fqdn', text: f.text, wildcard: f.wildcard };
      return model;
    }
    case 'externalService':
      return { kind: 'externalService', name: input.service.serviceName };
  }
}

function requireString(v: unknown): void {
  if (typeof v !== 'string') throw new InvalidValueError(quote(v), 'expected a string');
}

function toAddressModel(e: { kind: 'address' | 'cidr' | 'range'; text: string; family: 4 | 6 }): AddressModel {
  return { kind: e.kind, text: e.text, family: e.family };
}
