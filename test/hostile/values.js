'use strict';
/**
 * Hostile values and the judges that say whether a value is legal for a kind of prop.
 *
 * A judge returns `accept` (legal: must synthesize and render exactly what it says), `reject`
 * (must be refused with a named error) or `either` (a defensible choice: a well-formed refusal,
 * or acceptance whose output is valid and says exactly what the input said).
 */
const { HostileSentinel } = require('./harness');

/** A Proxy whose every trap throws the caller's own error. */
function throwingProxy(where) {
  const fail = () => {
    throw new HostileSentinel(`a Proxy trap (${where})`);
  };
  return new Proxy(
    {},
    {
      get: fail,
      has: fail,
      ownKeys: fail,
      getOwnPropertyDescriptor: fail,
      getPrototypeOf: fail,
      set: fail,
      defineProperty: fail,
      apply: fail,
    },
  );
}

/** Defines `key` on `obj` as an enumerable getter that throws the caller's own error. */
function throwingGetter(obj, key) {
  Object.defineProperty(obj, key, {
    enumerable: true,
    configurable: true,
    get() {
      throw new HostileSentinel(`the getter of "${key}"`);
    },
  });
}

/** Deep freeze of arrays and plain objects (constructs and value objects inside are left alone). */
function deepFreeze(v) {
  const plain = Array.isArray(v) || (v && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v)));
  if (plain && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze(v[k]);
  }
  return v;
}

/** An object with an own property named `__proto__` (as JSON.parse makes them). */
function withOwnProto(obj, protoValue) {
  Object.defineProperty(obj, '__proto__', { value: protoValue, enumerable: true, writable: true, configurable: true });
  return obj;
}

class HostileUserClass {
  constructor() {
    this.x = 1;
  }
}

/**
 * Values of the wrong type for most props. `install` values replace the prop with a throwing
 * getter instead of a value.
 */
const WRONG_TYPES = [
  { label: 'undefined', make: () => undefined },
  { label: 'null', make: () => null },
  { label: 'number', make: () => 42 },
  { label: 'string', make: () => 'str' },
  { label: 'empty-string', make: () => '' },
  { label: 'true', make: () => true },
  { label: 'empty-array', make: () => [] },
  { label: 'empty-object', make: () => ({}) },
  { label: 'NaN', make: () => NaN },
  { label: 'Infinity', make: () => Infinity },
  { label: 'bigint', make: () => 10n },
  { label: 'symbol', make: () => Symbol('hostile') },
  { label: 'function', make: () => function hostile() {} },
  { label: 'Date', make: () => new Date(0) },
  { label: 'Map', make: () => new Map([['a', 'b']]) },
  { label: 'boxed-string', make: () => new String('str') },
  { label: 'boxed-false', make: () => new Boolean(false) },
  { label: 'class-instance', make: () => new HostileUserClass() },
  { label: 'throwing-proxy', make: () => throwingProxy('prop value') },
  { label: 'throwing-getter', install: (props, key) => throwingGetter(props, key) },
];

/** Boolean-ish values that are not booleans. */
const BOOLEANISH = [
  ['string-false', 'false'],
  ['string-true', 'true'],
  ['string-no', 'no'],
  ['string-yes', 'yes'],
  ['string-0', '0'],
  ['string-1', '1'],
  ['string-FALSE', 'FALSE'],
  ['string-off', 'off'],
  ['number-0', 0],
  ['number-1', 1],
  ['array-false', [false]],
  ['valueOf-false', { valueOf: () => false }],
];

// ---------------------------------------------------------------------------------------------
// Judges

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** The library's documented free-text alphabet (letters, digits, space and _ . , : ; @ # ( ) / + = -). */
const SAFE_TEXT = /^[A-Za-z0-9 _.,:;@#()/+=-]*$/;
/** Never legal in text that reaches AS3 remarks, annotations, terminals or cdk.tf.json. */
const NEVER_IN_TEXT = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"\\]|\$\{|%\{/;

const isString = (v) => typeof v === 'string';

const judge = {
  dnsLabel:
    (max = 63) =>
    (v) =>
      isString(v) && v.length <= max && DNS_LABEL.test(v) ? 'accept' : 'reject',
  text: (max) => (v) => {
    if (!isString(v) || v.length > max || NEVER_IN_TEXT.test(v)) return 'reject';
    if (v.trim() === '' || v !== v.trim()) return 'either';
    return SAFE_TEXT.test(v) ? 'accept' : 'either';
  },
  int: (min, max) => (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? 'accept' : 'reject'),
  bool: () => (v) => (typeof v === 'boolean' ? 'accept' : 'reject'),
  oneOf: (values) => (v) => (isString(v) && values.includes(v) ? 'accept' : 'reject'),
  /** Structs, arrays, constructs and value objects: the generic wrong types are never legal. */
  never: () => () => 'reject',
};

/** Strings of a given length. */
const repeat = (s, n) => s.repeat(Math.ceil(n / s.length)).slice(0, n);

/** Text values for free-text props (description, owner, ticket, justification). */
function textValues(max) {
  return [
    ['safe-punctuation', 'a; b # c @ d (e) / f + g = h - i, j: k.', 'injection'],
    ['tmsh-semicolon', 'x; delete sys config; save sys config', 'injection'],
    ['shell-like', 'rm -rf / ; reboot', 'injection'],
    [`at-limit-${max}`, repeat('abcdefghij', max), 'limits'],
    [`over-limit-${max + 1}`, repeat('abcdefghij', max + 1), 'limits'],
    ['one-megabyte', repeat('x', 1 << 20), 'limits'],
    ['terraform-interpolation', '${var.bigip_password}', 'injection'],
    ['terraform-directive', '%{ if true }x%{ endif }', 'injection'],
    ['double-quote', 'say "hi"', 'injection'],
    ['single-quote', "it's", 'injection'],
    ['backslash', 'a\\b', 'injection'],
    ['newline', 'line1\nline2', 'injection'],
    ['carriage-return', 'a\rb', 'injection'],
    ['tab', 'a\tb', 'injection'],
    ['nul', 'a\u0000b', 'injection'],
    ['terminal-escape', '\u001b[31mred\u001b[0m', 'injection'],
    ['terminal-clear', '\u001b[2J\u001b[H', 'injection'],
    ['tmsh-pipe', 'a | b', 'injection'],
    ['tmsh-ampersand', 'a && b', 'injection'],
    ['tmsh-dollar', 'cost $5', 'injection'],
    ['backtick', 'a `id` b', 'injection'],
    ['irule-brackets', '[exec rm -rf /]', 'injection'],
    ['braces', '{ } ', 'injection'],
    ['html', '<script>alert(1)</script>', 'injection'],
    ['rtl-override', 'safe\u202egnp.exe', 'unicode'],
    ['zero-width-space', 'zero\u200bwidth', 'unicode'],
    ['bom', '\ufeffbom', 'unicode'],
    ['cyrillic-lookalike', 'раураl', 'unicode'],
    ['fullwidth', 'ｏｗｎｅｒ', 'unicode'],
    ['emoji', 'team 🔥', 'unicode'],
    ['combining', 'e\u0301', 'unicode'],
    ['spaces-only', '   ', 'injection'],
    ['leading-trailing-spaces', '  team  ', 'injection'],
  ];
}

/** Values for DNS-label props (rule name, namespace, service, ExternalService name). */
function dnsLabelValues(max = 63) {
  return [
    ['one-char', 'a', 'limits'],
    ['digits', '123', 'limits'],
    [`at-limit-${max}`, repeat('abc-def', max - 1) + 'z', 'limits'],
    [`over-limit-${max + 1}`, repeat('abc-def', max) + 'z', 'limits'],
    ['leading-dash', '-a', 'malformed'],
    ['trailing-dash', 'a-', 'malformed'],
    ['upper-case', 'Payments', 'malformed'],
    ['underscore', 'a_b', 'malformed'],
    ['dot', 'a.b', 'malformed'],
    ['slash', 'a/b', 'malformed'],
    ['space', 'a b', 'malformed'],
    ['trailing-newline', 'a\n', 'injection'],
    ['nul', 'a\u0000', 'injection'],
    ['terraform-interpolation', '${var.x}', 'injection'],
    ['tmsh-semicolon', 'a;b', 'injection'],
    ['cyrillic-a', 'аpi', 'unicode'],
    ['fullwidth', 'ａｂｃ', 'unicode'],
    ['zero-width', 'a\u200bb', 'unicode'],
    ['rtl-override', '\u202eab', 'unicode'],
    ['dotless-i', 'apı', 'unicode'],
  ];
}

/** ISO-8601 instants for expiresAt. */
const INSTANTS = [
  ['far-future', '2099-01-31T00:00:00Z', 'accept', 'limits'],
  ['fraction', '2099-12-31T23:59:59.999Z', 'accept', 'limits'],
  ['offset-plus-14', '2099-06-01T12:00:00+14:00', 'accept', 'limits'],
  ['no-seconds', '2099-06-01T12:00-12:00', 'accept', 'limits'],
  ['leap-day', '2096-02-29T00:00:00Z', 'accept', 'limits'],
  ['feb-30', '2099-02-30T00:00:00Z', 'reject', 'impossible'],
  ['apr-31', '2099-04-31T00:00:00Z', 'reject', 'impossible'],
  ['feb-29-non-leap-century', '2100-02-29T00:00:00Z', 'reject', 'impossible'],
  ['feb-29-non-leap', '2099-02-29T00:00:00Z', 'reject', 'impossible'],
  ['month-13', '2099-13-01T00:00:00Z', 'reject', 'impossible'],
  ['month-0', '2099-00-10T00:00:00Z', 'reject', 'impossible'],
  ['day-0', '2099-01-00T00:00:00Z', 'reject', 'impossible'],
  ['hour-25', '2099-01-01T25:00:00Z', 'reject', 'impossible'],
  ['minute-60', '2099-01-01T23:60:00Z', 'reject', 'impossible'],
  ['second-60', '2099-01-01T23:59:60Z', 'reject', 'impossible'],
  ['offset-25h', '2099-01-01T00:00:00+25:00', 'reject', 'impossible'],
  ['date-only', '2099-01-01', 'reject', 'malformed'],
  ['no-zone', '2099-01-01T00:00:00', 'reject', 'malformed'],
  ['expired', '1970-01-01T00:00:00Z', 'accept', 'legal'], // not enforced; synth warns
  ['words', 'tomorrow', 'reject', 'malformed'],
  ['six-digit-year', '+275760-09-13T00:00:00Z', 'reject', 'malformed'],
  ['trailing-newline', '2099-01-01T00:00:00Z\n', 'reject', 'injection'],
  ['leading-space', ' 2099-01-01T00:00:00Z', 'reject', 'malformed'],
  ['arabic-digits', '٢٠٩٩-01-01T00:00:00Z', 'reject', 'unicode'],
  ['epoch-millis', 4102444800000, 'reject', 'wrong-type'],
];

module.exports = {
  throwingProxy,
  throwingGetter,
  deepFreeze,
  withOwnProto,
  HostileUserClass,
  WRONG_TYPES,
  BOOLEANISH,
  judge,
  repeat,
  textValues,
  dnsLabelValues,
  INSTANTS,
  SAFE_TEXT,
};
