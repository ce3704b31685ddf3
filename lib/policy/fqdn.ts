/**
 * FQDN destinations: exact names and one-label `*.` wildcards.
 *
 * A wildcard directly above a public suffix (`*.com`, `*.co.uk`, `*.github.io`) would let a
 * pod reach any domain anyone can register, so it is refused. The public-suffix list (ICANN
 * and private sections) comes from tldts; a single unlisted label (`*.internal`) counts as a
 * suffix too, by the list's default rule.
 */
import { getPublicSuffix } from 'tldts';
import { InvalidValueError, quote } from './errors';

export interface FqdnEntry {
  readonly text: string;
  readonly wildcard: boolean;
  /** For a wildcard, the name below the `*.`; for an exact name, the name itself. */
  readonly base: string;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseFqdn(text: string): FqdnEntry {
  const bad = (problem: string): never => {
    throw new InvalidValueError(quote(text), problem);
  };
  if (typeof text !== 'string') bad('expected a DNS name string such as "api.example.com"');
  if (text !== text.toLowerCase()) bad(`DNS names are matched in lower case; write "${text.toLowerCase()}"`);
  if (text.endsWith('.')) bad(`leave out the trailing dot; write "${text.slice(0, -1)}"`);
  if (text.length > 253) bad('a DNS name is at most 253 characters long');
  if (/[^\x21-\x7e]/.test(text)) {
    bad('only ASCII letters, digits, "-" and "." are allowed; write internationalized names in punycode ("xn--…")');
  }
  const wildcard = text.startsWith('*.');
  const base = wildcard ? text.slice(2) : text;
  if (base.includes('*')) bad('only a single leading "*." wildcard is supported, and it matches exactly one label');
  const labels = base.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) {
      bad(`label ${quote(label)} is not a DNS label (1–63 of a-z, 0-9 and "-", not starting or ending with "-")`);
    }
  }
  if (labels.length < 2 && !wildcard) bad('use a fully qualified name with at least two labels, such as "api.example.com"');
  if (/^[0-9.]+$/.test(base)) bad('this looks like an IPv4 address; use EgressDestination.address() for addresses');
  if (wildcard) {
    const suffix = getPublicSuffix(base, { allowPrivateDomains: true });
    if (suffix === base) {
      bad(
        `"*.${base}" covers the public suffix "${base}", so it would match names that anyone can register; ` +
          'name a domain you control, such as "*.example.' +
          base +
          '"',
      );
    }
  }
  return { text, wildcard, base };
}

/** True when `host` (an exact lower-case name) is matched by the FQDN entry. */
export function fqdnMatches(entry: FqdnEntry, host: string): boolean {
  if (!entry.wildcard) return host === entry.text;
  if (!host.endsWith(`.${entry.base}`)) return false;
  const head = host.slice(0, host.length - entry.base.length - 1);
  return head.length > 0 && !head.includes('.');
}
