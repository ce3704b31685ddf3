/**
 * Reading props objects from callers whose types are not checked (JavaScript, jsii).
 *
 * A key that is dropped instead of refused can widen a rule (a misspelled `podSelecter`
 * selects every pod), so a struct is read from its own keys, every one of which is then
 * checked: nothing inherited, hidden or computed slips past, and nothing is dropped.
 */
import { PolicyIssue, quote } from './errors';

/** One reason a value cannot be read as a struct; `key` is the own key at fault, if any. */
export interface StructProblem {
  readonly key?: PropertyKey;
  /** The offending value, quoted for a message. */
  readonly value: string;
  readonly message: string;
}

/** A struct as read: its own string-keyed data (in a prototype-free object), or its problems. */
export interface StructRead {
  readonly data?: Record<string, unknown>;
  readonly problems: readonly StructProblem[];
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return describe(e);
}

/** Quotes any value for a message, without throwing and without a wall of text. */
export function describe(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  let text: string;
  try {
    text = quote(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/** The class name of a non-plain object, for messages (`Date`, `Map`, `AfmDevice`). */
function className(proto: object): string {
  try {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' && ctor.name ? ctor.name : 'class';
  } catch {
    return 'class';
  }
}

/** `Object.prototype` of any realm: a prototype-less object that has the Object methods. */
function isObjectPrototype(proto: object): boolean {
  return Object.getPrototypeOf(proto) === null && Object.prototype.hasOwnProperty.call(proto, 'isPrototypeOf');
}

/**
 * What the prototype chain of a class instance defines besides `constructor`, down to
 * `Object.prototype`: getters, methods or fields there are never read as props, so an instance
 * whose chain has any is refused (a prototype getter of an optional prop would be dropped).
 */
function prototypeKeys(proto: object): PropertyKey[] {
  const keys: PropertyKey[] = [];
  // A Proxy may claim any prototype, itself included: each is visited once.
  const seen = new Set<object>();
  for (let p: object | null = proto; p !== null && !seen.has(p) && !isObjectPrototype(p); p = Object.getPrototypeOf(p) as object | null) {
    seen.add(p);
    for (const key of Reflect.ownKeys(p)) if (key !== 'constructor') keys.push(key);
  }
  return keys;
}

/** Whether the class of `proto` is built into JavaScript (Date, Map, String, …), not the caller's own. */
function isBuiltInClass(proto: object): boolean {
  try {
    const ctor = (proto as { constructor?: unknown }).constructor;
    return typeof ctor === 'function' && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(ctor));
  } catch {
    return false;
  }
}

/** Why an object that is not a literal cannot be read as a struct, or undefined when it can. */
function instanceProblem(proto: object, expected: string): string | undefined {
  const keys = prototypeKeys(proto);
  if (keys.length === 0) return undefined;
  const shown = keys.slice(0, 3).map(String).join(', ') + (keys.length > 3 ? ', …' : '');
  const name = className(proto);
  if (name !== 'Object' && isBuiltInClass(proto)) return `expected ${expected} written as an object literal, not a ${name} object`;
  if (name === 'Object') {
    return `expected ${expected} written as an object literal, not an object that inherits ${shown} from another object: props are read only from the object itself; pass an object literal`;
  }
  return `expected ${expected} written as an object literal, not a ${name} object: ${name} has ${shown} on its prototype, and props are read only from the object itself; pass an object literal`;
}

/**
 * Reads `value` as a struct (an object literal): refuses nothing, `null`, primitives, arrays,
 * functions, symbol keys and getters that throw. A class instance (legal TypeScript: a class
 * may implement a props interface) is read from its own keys like a literal, but only when its
 * prototype chain defines nothing besides `constructor`: a prototype getter, method or field
 * would otherwise be silently ignored. Non-enumerable own keys are read like the others, so
 * they are checked like the others. `expected` names what was expected, for messages:
 * `an EgressSchedule ({ startTime, endTime, … })`.
 */
export function readStruct(value: unknown, expected: string): StructRead {
  if (value === undefined) return { problems: [{ value: 'nothing', message: `is required: pass ${expected}` }] };
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return { problems: [{ value: describe(value), message: `expected ${expected}` }] };
  }
  try {
    if (typeof value === 'function') return { problems: [{ value: describe(value), message: `expected ${expected}, not a function` }] };
    if (Array.isArray(value)) return { problems: [{ value: describe(value), message: `expected ${expected}, not an array` }] };
    const proto = Object.getPrototypeOf(value) as object | null;
    const notLiteral = proto !== null && !isObjectPrototype(proto) ? instanceProblem(proto, expected) : undefined;
    if (notLiteral) return { problems: [{ value: describe(value), message: notLiteral }] };
    const problems: StructProblem[] = [];
    const data: Record<string, unknown> = Object.create(null);
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key === 'symbol') {
        problems.push({ key, value: describe(key), message: 'a symbol key is not a prop; remove it' });
        continue;
      }
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!descriptor) continue;
      let v: unknown;
      if ('value' in descriptor) {
        v = descriptor.value;
      } else {
        try {
          v = descriptor.get?.call(value);
        } catch (e) {
          problems.push({ key, value: 'a getter', message: `reading it threw ${errorText(e)}; pass a plain value` });
          continue;
        }
      }
      // `data` has no prototype, so there is no __proto__ setter: an own "__proto__" key is
      // assigned as a plain key and stays a key to be checked.
      data[key] = v;
    }
    return problems.length ? { problems } : { data, problems };
  } catch (e) {
    // A Proxy whose traps throw.
    return { problems: [{ value: 'an object that cannot be read', message: `expected ${expected}; reading it threw ${errorText(e)}` }] };
  }
}

/** How an unknown key of a struct is explained. */
export interface UnknownKeyHints {
  /** What the object is, for messages: `a ClusterEgressRule`, `the logging options`. */
  readonly what: string;
  /** Keys that are valid elsewhere, with the fix (`namespace` on a cluster rule → use a NamespaceEgressRule). */
  readonly misplaced?: Readonly<Record<string, string>>;
  /** The fix for any other unknown key with no near known key (default: remove it, and the known keys). */
  readonly otherwise?: string;
}

/** Edit distance, for "did you mean" hints on misspelled keys. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * Why an unknown key is refused: a dropped key would silently widen a rule (a misspelled
 * `podSelecter` selects every pod), so every unknown key fails with a hint at the intended one.
 */
export function unknownKeyMessage(key: string, known: readonly string[], hints?: UnknownKeyHints): string {
  const what = hints?.what ?? 'this object';
  const misplaced = hints?.misplaced && Object.prototype.hasOwnProperty.call(hints.misplaced, key) ? hints.misplaced[key] : undefined;
  if (misplaced) return `is not a prop of ${what}: ${misplaced}`;
  const near = known
    .map((k) => ({ k, d: editDistance(key, k) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 4)))
    .sort((x, y) => x.d - y.d)[0];
  const fix = near ? `did you mean "${near.k}"?` : (hints?.otherwise ?? `remove it; the props of ${what} are ${known.join(', ')}`);
  return `is not a prop of ${what}, and an unknown prop is never ignored: ${fix}`;
}

/** The own keys `Object.prototype` has in every JavaScript engine. */
const OBJECT_PROTOTYPE_KEYS = new Set([
  'constructor',
  '__defineGetter__',
  '__defineSetter__',
  'hasOwnProperty',
  '__lookupGetter__',
  '__lookupSetter__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toString',
  'valueOf',
  '__proto__',
  'toLocaleString',
]);

/**
 * Props other code has put on `Object.prototype` that corrupt a synthesized app: cdktf merges
 * every resource into objects it creates, and an inherited object or array under a key of a
 * resource is merged into instead of replaced (an inherited `ports` array is prepended to a
 * rule's ports; an inherited `podSelector` object swallows the rule's own, which then vanishes
 * from its custom resource). Inherited functions and plain values are harmless there, and the
 * policy model never reads inherited props.
 */
export function objectPrototypePollution(): { readonly key: string; readonly value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const key of Object.getOwnPropertyNames(Object.prototype)) {
    if (OBJECT_PROTOTYPE_KEYS.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(Object.prototype, key);
    if (!descriptor) continue;
    if (!('value' in descriptor)) out.push({ key, value: 'a getter' });
    else if (typeof descriptor.value === 'object' && descriptor.value !== null) out.push({ key, value: describe(descriptor.value) });
  }
  return out;
}

/**
 * The issues of {@link objectPrototypePollution}, on the construct at `path` (empty in a
 * construct's own validation, which cdktf prefixes with its path).
 */
export function prototypePollutionIssues(path: string): PolicyIssue[] {
  return objectPrototypePollution().map(({ key, value }) => ({
    path,
    field: `Object.prototype.${key}`,
    value,
    message: `is set by other code in this program, and cdktf would merge it into the synthesized resources (adding to them, or dropping parts of them), so nothing is synthesized: find the code that sets it and remove it (delete Object.prototype.${key})`,
  }));
}
