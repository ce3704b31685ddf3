/**
 * Resource quantities as the API server stores them: parsed, rounded up to nano precision and
 * written back in canonical form (`1000m` → `1`, `0.5` → `500m`, `1024Mi` → `1Gi`).
 *
 * Models k8s.io/apimachinery/pkg/api/resource/quantity.go (v0.33): `ParseQuantity` (suffix
 * classes, rounding up to 1n, BinarySI below 1 becoming DecimalSI) and `CanonicalizeBytes`
 * (BinarySI below 1024 or with a fraction is shown as DecimalSI; the exponent is the largest
 * multiple of 3, or of 2^10, that loses no precision). Values beyond int64 are not capped here.
 */

/** The error text of `ErrFormatWrong` in quantity.go. */
export const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

interface Parsed {
  /** The value in units of 10^-9 (nano), rounded away from zero. */
  readonly nanos: bigint;
  readonly format: Format;
}

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_NAMES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const NANO = 10n ** 9n;

export class QuantityError extends Error {}

/** Parses a quantity string; throws `QuantityError` with the upstream message when it is malformed. */
function parse(text: string): Parsed {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(text);
  if (!m || text === '' || (m[2] === '' && (m[3] ?? '') === '')) throw new QuantityError(QUANTITY_FORMAT_ERROR);
  const [, sign, whole, frac = '', suffix] = m;
  let exponent10 = 0;
  let exponent2 = 0;
  let format: Format;
  if (suffix in DECIMAL_SUFFIXES) {
    exponent10 = DECIMAL_SUFFIXES[suffix];
    format = 'DecimalSI';
  } else if (suffix in BINARY_SUFFIXES) {
    exponent2 = BINARY_SUFFIXES[suffix];
    format = 'BinarySI';
  } else if (/^[eE][+-]?[0-9]+$/.test(suffix)) {
    exponent10 = Number(suffix.slice(1));
    format = 'DecimalExponent';
  } else if (/^[eEinumkKMGTP]*[-+]?[0-9]*$/.test(suffix)) {
    throw new QuantityError("unable to parse quantity's suffix");
  } else throw new QuantityError(QUANTITY_FORMAT_ERROR);
  // value = digits * 10^(exponent10 - frac.length) * 2^exponent2, kept exact as a fraction.
  let num = BigInt(`${whole}${frac}` || '0') * 2n ** BigInt(exponent2);
  let den = 1n;
  const shift = exponent10 - frac.length + 9; // in nanos
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den = 10n ** BigInt(-shift);
  // inf.RoundUp: non-zero values are rounded away from zero to the next nano.
  const nanos = (num + den - 1n) / den;
  const signed = sign === '-' ? -nanos : nanos;
  // A BinarySI value between 0 and 1 is kept as DecimalSI (ParseQuantity, slow path).
  if (format === 'BinarySI' && nanos > 0n && nanos < NANO) format = 'DecimalSI';
  return { nanos: signed, format };
}

/** The canonical text of a valid quantity, as the API server writes it back. */
export function canonicalQuantity(text: string): string {
  const q = parse(text);
  if (q.nanos === 0n) return '0';
  const negative = q.nanos < 0n;
  const abs = negative ? -q.nanos : q.nanos;
  let format = q.format;
  if (format === 'BinarySI' && (abs < 1024n * NANO || abs % NANO !== 0n)) format = 'DecimalSI';
  let body: string;
  if (format === 'BinarySI') {
    let v = abs / NANO;
    let e = 0;
    while (e < BINARY_NAMES.length - 1 && v % 1024n === 0n) {
      v /= 1024n;
      e++;
    }
    body = `${v}${BINARY_NAMES[e]}`;
  } else {
    // Largest exponent (a multiple of 3, from -9) that keeps the mantissa an integer.
    let e = -9;
    let v = abs;
    while (v % 1000n === 0n && (format === 'DecimalExponent' || e < 18)) {
      v /= 1000n;
      e += 3;
    }
    body = format === 'DecimalSI' ? `${v}${DECIMAL_BY_EXPONENT.get(e) ?? ''}` : e === 0 ? `${v}` : `${v}e${e}`;
  }
  return negative ? `-${body}` : body;
}
