/**
 * Offline validation of AS3 declarations against F5's published AS3 JSON schema.
 *
 * The schema is F5's file (not shipped with this package); pass its path. On top of JSON
 * schema validation this checks what AS3 itself only checks on a device: that every `use`
 * pointer resolves to an object of the expected class, that firewall address and port
 * entries parse, that firewall rule names are unique per list, that `/Tenant/App/item`
 * paths fit in 195 characters and that route-domain enforcement lives in `/Common/Shared`.
 *
 * Notes on the schema (AS3 3.56): it uses its own keywords (`f5PostProcess`, `errorMessage`,
 * a stray `bigip`) and formats (`f5ip`, `f5bigip`, `f5pointer`); ajv must run with
 * `strict: false`; documents are validated against `#/definitions/AS3` or `ADC` directly
 * rather than through the root `oneOf`.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parseAddressEntry } from '../policy/ip';
import { AS3_PATH_MAX } from '../policy/names';

export interface As3ValidationResult {
  readonly valid: boolean;
  readonly errors: readonly string[];
}

interface PointerUse {
  readonly instancePath: string;
  readonly pointer: string;
  readonly expectedClass?: string;
}

const F5IP = /^([^%/]+)(?:%(\d{1,5}))?(?:\/(\d{1,3}))?$/;

/** AS3's `f5ip` format: an IPv4/IPv6 address with optional `%routeDomain` and `/prefix`. */
function isF5Ip(value: string): boolean {
  if (value === '') return true;
  const m = F5IP.exec(value);
  if (!m) return false;
  const family = net.isIP(m[1]);
  if (family === 0) return false;
  if (m[2] !== undefined && Number(m[2]) > 65534) return false;
  return m[3] === undefined || Number(m[3]) <= (family === 4 ? 32 : 128);
}

/** `addr[%rd][/len]` or `addr[%rd]-addr[%rd]`: the firewall address syntax. */
export function firewallAddressProblem(entry: string): string | undefined {
  const stripped = entry.replace(/%\d{1,5}(?=$|\/|-)/g, '');
  try {
    parseAddressEntry(stripped);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function firewallPortProblem(entry: unknown): string | undefined {
  const ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (typeof entry === 'number') return ok(entry) ? undefined : `port ${entry} out of range`;
  if (typeof entry === 'string') {
    const m = /^(\d+)(?:-(\d+))?$/.exec(entry);
    if (m && ok(Number(m[1])) && ok(Number(m[2] ?? m[1])) && Number(m[1]) <= Number(m[2] ?? m[1])) return undefined;
  }
  return `"${String(entry)}" is not a port or ascending port range`;
}

export class As3Validator {
  /** Loads and compiles the schema (about 1–2 s); reuse the validator. */
  public static fromSchemaFile(schemaPath: string): As3Validator {
    return new As3Validator(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
  }

  private readonly validateRequest: ValidateFunction;
  private readonly validateAdc: ValidateFunction;
  private pointerUses: PointerUse[] = [];

  private constructor(schema: { $id: string }) {
    const ajv = new Ajv({ strict: false, allErrors: false, useDefaults: false });
    addFormats(ajv);
    ajv.addFormat('f5ip', isF5Ip);
    ajv.addFormat('f5ipv4', (v: string) => isF5Ip(v) && !v.includes(':'));
    ajv.addFormat('f5ipv6', (v: string) => isF5Ip(v) && v.includes(':'));
    ajv.addFormat('f5bigip', /^\/[^\x00-\x1f"#'*<>?[\\\]{|}\x7f]+$/);
    ajv.addFormat('f5pointer', /^[^\x00-\x20"'<>\\^`|\x7f]*$/);
    ajv.addKeyword({ keyword: 'errorMessage' });
    ajv.addKeyword({ keyword: 'bigip' });
    // AS3 runs post-processing for this keyword after validation; we only record pointers.
    ajv.addKeyword({
      keyword: 'f5PostProcess',
      schemaType: 'object',
      errors: false,
      validate: (
        sch: { tag?: string; data?: { properties?: { class?: { const?: string; enum?: string[] } } } },
        data: unknown,
        _p: unknown,
        cxt?: { instancePath: string },
      ) => {
        if (sch.tag === 'pointer' && typeof data === 'string' && cxt) {
          // AS3 validates the target against the pointer's schema, `const` or `enum` alike (AS3 `src/lib/tag/pointerTag.js:68-95`).
          const cls = sch.data?.properties?.class;
          this.pointerUses.push({ instancePath: cxt.instancePath, pointer: data, expectedClass: cls?.const ?? cls?.enum?.join(' or ') });
        }
        return true;
      },
    });
    ajv.addSchema(schema);
    this.validateRequest = ajv.getSchema(`${schema.$id}#/definitions/AS3`) as ValidateFunction;
    this.validateAdc = ajv.getSchema(`${schema.$id}#/definitions/ADC`) as ValidateFunction;
  }

  /** Validates an AS3 request (`class: AS3`) or a bare ADC declaration. */
  public validate(doc: unknown): As3ValidationResult {
    this.pointerUses = [];
    const isRequest = !!doc && typeof doc === 'object' && (doc as { class?: string }).class === 'AS3';
    const fn = isRequest ? this.validateRequest : this.validateAdc;
    if (!fn(doc)) {
      return {
        valid: false,
        errors: (fn.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}${paramsText(e.params)}`),
      };
    }
    const adc = (isRequest ? (doc as { declaration: unknown }).declaration : doc) as Record<string, unknown>;
    const prefix = isRequest ? '/declaration' : '';
    const errors = [...this.checkPointers(adc, prefix), ...lint(adc)];
    return { valid: errors.length === 0, errors };
  }

  private checkPointers(adc: Record<string, unknown>, prefix: string): string[] {
    const errors: string[] = [];
    for (const use of this.pointerUses) {
      if (prefix && !use.instancePath.startsWith(prefix)) continue;
      const at = use.instancePath.slice(prefix.length).split('/').slice(1);
      const [tenant, app] = at;
      const target = resolvePointer(adc, use.pointer, tenant, app);
      if (target === undefined) {
        errors.push(`${use.instancePath}: pointer "${use.pointer}" does not resolve to an object in the declaration`);
      } else if (use.expectedClass && !use.expectedClass.split(' or ').includes(String(target.class))) {
        errors.push(`${use.instancePath}: pointer "${use.pointer}" resolves to a ${String(target.class)}, expected ${use.expectedClass}`);
      }
    }
    return errors;
  }
}

/** Resolves `item`, `/T/A/item` and `@`-relative pointers the way AS3 does for our shapes. */
function resolvePointer(adc: Record<string, unknown>, pointer: string, tenant: string, app: string): Record<string, unknown> | undefined {
  const p = pointer.replace(/#$/, '');
  const parts = p.startsWith('/') ? p.split('/').slice(1) : ['@', '@', p];
  const [t, a, item] = parts.length === 3 ? parts : [undefined, undefined, undefined];
  if (item === undefined) return undefined;
  const tenantObj = adc[t === '@' ? tenant : (t as string)] as Record<string, unknown> | undefined;
  const appObj = tenantObj?.[a === '@' ? app : (a as string)] as Record<string, unknown> | undefined;
  const target = appObj?.[item];
  return target && typeof target === 'object' ? (target as Record<string, unknown>) : undefined;
}

function lint(adc: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const [tenantName, tenant] of Object.entries(adc)) {
    if (!tenant || typeof tenant !== 'object' || (tenant as { class?: string }).class !== 'Tenant') continue;
    for (const [appName, app] of Object.entries(tenant as Record<string, unknown>)) {
      if (!app || typeof app !== 'object' || (app as { class?: string }).class !== 'Application') continue;
      for (const [itemName, item] of Object.entries(app as Record<string, unknown>)) {
        if (!item || typeof item !== 'object') continue;
        const path = `/${tenantName}/${appName}/${itemName}`;
        const obj = item as Record<string, unknown>;
        if (path.length > AS3_PATH_MAX) errors.push(`${path}: path is ${path.length} characters, AS3 allows ${AS3_PATH_MAX}`);
        if (obj.class === 'Firewall_Address_List') {
          for (const a of (obj.addresses as unknown[] | undefined) ?? []) {
            if (typeof a !== 'string') continue;
            const problem = firewallAddressProblem(a);
            if (problem) errors.push(`${path}: address "${a}": ${problem}`);
          }
        }
        if (obj.class === 'Firewall_Port_List') {
          for (const p of (obj.ports as unknown[] | undefined) ?? []) {
            const problem = firewallPortProblem(p);
            if (problem) errors.push(`${path}: ${problem}`);
          }
        }
        if (obj.class === 'Firewall_Rule_List' || obj.class === 'Firewall_Policy') {
          const names = new Set<string>();
          for (const r of (obj.rules as Record<string, unknown>[] | undefined) ?? []) {
            if (typeof r.name !== 'string') continue;
            if (names.has(r.name)) errors.push(`${path}: duplicate rule name "${r.name}"`);
            names.add(r.name);
          }
        }
        if (obj.class === 'Firewall_Policy' && obj.routeDomainEnforcement && `/${tenantName}/${appName}` !== '/Common/Shared') {
          errors.push(`${path}: routeDomainEnforcement requires the policy to be in /Common/Shared`);
        }
      }
    }
  }
  return errors;
}

function paramsText(params: unknown): string {
  const text = params ? JSON.stringify(params) : '';
  return text && text !== '{}' && text.length <= 200 ? ` ${text}` : '';
}
