/**
 * Rules for names and free text that reach Kubernetes, AS3, tmsh or iRules.
 *
 * Everything a user types that ends up on the BIG-IP passes one of these checks, so nothing can
 * break out of a JSON string, a tmsh word or an iRule.
 */

/** RFC 1123 label: what Kubernetes requires of namespace and service names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_LABEL_MAX = 63;

/** Kubernetes label key: optional DNS-subdomain prefix, then a name of at most 63 characters. */
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** AS3 tenant name rule, narrowed to what is also a safe tmsh word and partition name. */
export const TENANT_NAME = /^[A-Za-z][0-9A-Za-z_]*$/;
export const TENANT_NAME_MAX = 48;

/** AS3 item names: letter first, then letters, digits, `_`, `.`, `-`; not ending in `-`. */
export const AS3_ITEM_NAME = /^[A-Za-z]([0-9A-Za-z_.-]{0,188}[0-9A-Za-z_.])?$/;
/** AS3 documents `/Tenant/Application/item` at most 195 characters. */
export const AS3_PATH_MAX = 195;

/** AS3 remark: at most 64 characters, no control characters, `"` or `\`. */
export const REMARK_MAX = 64;
const REMARK_FORBIDDEN = /[\x00-\x1f"\\\x7f]/;

/** Characters that are safe inside AS3 remarks, tmsh descriptions and iRule comments alike. */
const SAFE_TEXT = /^[A-Za-z0-9 _.,:;@#()/+=-]*$/;

export function dnsLabelProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > DNS_LABEL_MAX) return `must be at most ${DNS_LABEL_MAX} characters (it has ${value.length})`;
  if (!DNS_LABEL.test(value)) {
    return 'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit';
  }
  return undefined;
}

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'the prefix before "/" must be a DNS subdomain such as "app.kubernetes.io"';
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return 'a label name is 1–63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value)) {
    return 'a label value is at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Properties of AS3's ADC class (AS3 3.56 schema, `ADC`): a tenant named so would replace one. */
const ADC_PROPERTIES: ReadonlySet<string> = new Set([
  'class',
  'updateMode',
  'schemaVersion',
  'id',
  'target',
  'label',
  'remark',
  'constants',
  'controls',
  'scratch',
]);

export function tenantProblem(value: string): string | undefined {
  if (!TENANT_NAME.test(value)) {
    return 'must start with a letter and contain only letters, digits and "_" (it names a BIG-IP partition)';
  }
  if (value.length > TENANT_NAME_MAX) return `must be at most ${TENANT_NAME_MAX} characters (it has ${value.length})`;
  if (value === 'Common' || value === 'Shared' || ADC_PROPERTIES.has(value)) {
    return `"${value}" is reserved by AS3 (a tenant is a property of the declaration, beside its ${[...ADC_PROPERTIES].join(', ')}); choose another name`;
  }
  return undefined;
}

/** Free text that is rendered into AS3 remarks (and so into tmsh descriptions). */
export function remarkProblem(value: string, max = REMARK_MAX): string | undefined {
  if (value.length > max) {
    return `must be at most ${max} characters so it fits an AS3 remark (it has ${value.length}); shorten it`;
  }
  if (REMARK_FORBIDDEN.test(value) || !SAFE_TEXT.test(value)) {
    return 'may contain only letters, digits, spaces and _ . , : ; @ # ( ) / + = - (it reaches AS3, tmsh and iRules)';
  }
  return undefined;
}

/** Kubernetes-style camelCase or PascalCase construct id → a DNS label candidate (`AllowDns` → `allow-dns`). */
export function kebabCase(id: string): string {
  return id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .replace(/[\s_]+/g, '-')
    .toLowerCase();
}
