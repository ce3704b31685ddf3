import { InvalidValueError, quote } from './errors';
import { parseFqdn } from './fqdn';
import { addressEntry, parseCidr, parseRange } from './ip';
import type { AddressModel, DestinationModel, FqdnModel } from './model';
import { dnsLabelProblem } from './names';
import { describe } from './struct';

/**
 * A named, reusable destination set (implemented by the `ExternalService` construct).
 */
export interface IExternalService {
  /** Name of the set, unique per device. */
  readonly serviceName: string;
}

/** What a factory was given, kept as given: it is checked when a construct receives the destination. */
type DestinationInput =
  | { readonly kind: 'address'; readonly value: unknown }
  | { readonly kind: 'cidr'; readonly value: unknown }
  | { readonly kind: 'range'; readonly first: unknown; readonly last: unknown }
  | { readonly kind: 'fqdn'; readonly value: unknown }
  | { readonly kind: 'externalService'; readonly service: unknown };

const EXAMPLES = {
  address: '"192.0.2.10" or "2001:db8::10"',
  cidr: '"198.51.100.0/24" or "2001:db8::/32"',
  range: '"10.0.0.1" and "10.0.0.9"',
  fqdn: '"api.example.com"',
} as const;

/**
 * What each destination was made from, kept outside the object: only the factories make a
 * destination (`Object.create(EgressDestination.prototype)` has no entry), and nothing reachable
 * from a destination can change what it says after a rule has read it.
 */
const INPUTS = new WeakMap<object, DestinationInput>();

/** Whether `x` is a destination made by a factory of this class. */
export function isEgressDestination(x: unknown): x is EgressDestination {
  return typeof x === 'object' && x !== null && INPUTS.has(x);
}

/**
 * Where egress traffic goes: an address, CIDR, range, DNS name, or a named
 * {@link IExternalService} set.
 *
 * Values are checked when a rule or external service receives them, so an error names the
 * construct path and field. Destinations are immutable.
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

  private constructor(input: DestinationInput) {
    INPUTS.set(this, Object.freeze(input));
    Object.freeze(this);
  }

  /** The external service this destination refers to, if any. */
  public get externalServiceRef(): IExternalService | undefined {
    const input = INPUTS.get(this);
    const service = input?.kind === 'externalService' ? input.service : undefined;
    return typeof service === 'object' && service !== null ? (service as IExternalService) : undefined;
  }

  /** The destination as written: `192.0.2.10`, `10.0.0.1-10.0.0.9`, `externalService:bank`. */
  public toString(): string {
    const input = INPUTS.get(this);
    const text = (v: unknown) => (typeof v === 'string' ? v : describe(v));
    if (!input) return 'an EgressDestination not made by its static factories';
    switch (input.kind) {
      case 'range':
        return `${text(input.first)}-${text(input.last)}`;
      case 'externalService': {
        const name = serviceName(input.service);
        return `externalService:${typeof name === 'string' ? name : describe(input.service)}`;
      }
      default:
        return text(input.value);
    }
  }

  /**
   * Validates and converts to the policy model.
   * @internal
   */
  public _toModel(): DestinationModel {
    const input = INPUTS.get(this);
    if (!input)
      throw new InvalidValueError(
        quote(this.toString()),
        'make destinations with the static factories, such as EgressDestination.cidr("10.0.0.0/8")',
      );
    return destinationModel(input);
  }
}
Object.freeze(EgressDestination);
Object.freeze(EgressDestination.prototype);

/** The `serviceName` of what was passed as an external service, or undefined if it has none. */
function serviceName(service: unknown): unknown {
  if (typeof service !== 'object' || service === null) return undefined;
  try {
    return (service as { serviceName?: unknown }).serviceName;
  } catch {
    return undefined;
  }
}

function destinationModel(input: DestinationInput): DestinationModel {
  switch (input.kind) {
    case 'address': {
      const value = requireString(input.value, 'address');
      if (value.includes('/')) {
        throw new InvalidValueError(quote(value), 'this is a CIDR; use EgressDestination.cidr()');
      }
      return toAddressModel(addressEntry(value));
    }
    case 'cidr':
      return toAddressModel(parseCidr(requireString(input.value, 'cidr')));
    case 'range':
      return toAddressModel(parseRange(requireString(input.first, 'range'), requireString(input.last, 'range')));
    case 'fqdn': {
      const f = parseFqdn(requireString(input.value, 'fqdn'));
      const model: FqdnModel = { kind: 'fqdn', text: f.text, wildcard: f.wildcard };
      return model;
    }
    case 'externalService': {
      const name = serviceName(input.service);
      if (typeof name !== 'string' || dnsLabelProblem(name)) {
        throw new InvalidValueError(
          describe(input.service),
          'EgressDestination.externalService() needs an ExternalService construct (created with new ExternalService(...))',
        );
      }
      return { kind: 'externalService', name };
    }
  }
}

function requireString(v: unknown, factory: keyof typeof EXAMPLES): string {
  if (typeof v !== 'string') {
    throw new InvalidValueError(describe(v), `EgressDestination.${factory}() needs a string such as ${EXAMPLES[factory]}`);
  }
  return v;
}

function toAddressModel(e: { kind: 'address' | 'cidr' | 'range'; text: string; family: 4 | 6 }): AddressModel {
  return { kind: e.kind, text: e.text, family: e.family };
}
