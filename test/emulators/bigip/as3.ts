/**
 * AS3 3.56 on the emulated device: `/mgmt/shared/appsvcs/declare[/<tenants>]` (deploy, dry-run,
 * remove, retrieve; synchronous or async), its configuration lock, task records under
 * `/mgmt/shared/appsvcs/task`, `/info`, and the run of one operation tenant by tenant against the
 * device model (device.ts), with the parser checks that precede it (structure, F5's schema when
 * configured, `use` pointers, `bigip` pointers).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { As3Validator } from '../../../lib/testing/as3-validator';
import { Device, copyConfig } from './device';
import { DEVICE_HOST, ErrorAnswers, HttpError } from './http';
import { Json, isApplication, isObject, isTenant } from './json';
import { iRuleDeclarationErrors } from './irule';
import { forEachBigip, forEachUse, pointerProblem } from './partition-index';
import { Timers } from './timers';

/** Per-tenant result of an AS3 operation. */
export interface BigipAs3Result {
  readonly code: number;
  readonly message: string;
  readonly tenant?: string;
  readonly host?: string;
  readonly runTime?: number;
  readonly declarationId?: string;
  readonly dryRun?: boolean;
  readonly response?: string;
  readonly errors?: readonly string[];
}

const AS3_TASK_RECORDS_MAX = 25;
const AS3_VERSION = { version: '3.56.0', release: '10', schemaCurrent: '3.56.0', schemaMinimum: '3.0.0' };
const AS3_NAME = /^[A-Za-z][0-9A-Za-z_.-]*$/;
const ADC_HEADER_KEYS = new Set(['class', 'schemaVersion', 'id', 'label', 'remark', 'constants', 'controls', 'updateMode', '$schema']);
/** AS3's lock message (AS3 `src/lib/mutex.js:127-128`, `mutexTimeoutMinutes: 2` in `src/lib/constants.js:69`). */
export const BUSY_MESSAGE = (host: string) => `Configuration operation in progress on device ${host}, please try again in 2 minutes`;
/** `"/Common/Shared` anywhere in a declaration makes AS3 add the stored Common (AS3 `src/lib/declarationHandler.js:43`). */
const COMMON_SHARED_REFERENCE = /"\/Common\/Shared/;

interface TaskRecord {
  readonly id: string;
  results: BigipAs3Result[] | Json[];
  declaration: Record<string, unknown>;
  readonly selfLink: string;
}

/** The outcome of one AS3 operation. */
type As3Outcome =
  | { readonly invalid: readonly string[] }
  /** The whole request failed before any tenant was touched (the error body). */
  | { readonly refused: Json }
  | { readonly results: BigipAs3Result[]; readonly declaration: Json; readonly status: number };

interface As3Operation {
  /** deploy, remove, retrieve, or invalid (an async request whose task reports 422). */
  readonly action: string;
  /** Tenants of the URL path (`/declare/<t1,t2>`). */
  readonly filter: readonly string[] | undefined;
  /** The ADC declaration as posted. */
  readonly declaration: Json;
  /** The AS3 request (`class: AS3`) around it, when one was posted. */
  readonly request: Json | undefined;
  readonly dryRun: boolean;
  readonly persist: boolean;
  readonly errors?: readonly string[];
}

const validators = new Map<string, As3Validator>();

export function validatorFor(schemaPath: string): As3Validator {
  const resolved = path.resolve(schemaPath);
  let v = validators.get(resolved);
  if (!v) {
    if (!fs.existsSync(resolved))
      throw new Error(
        `BigipEmulator: as3SchemaPath ${resolved} does not exist; pass the path of F5's as3-schema-<version>.json or leave the option out`,
      );
    v = As3Validator.fromSchemaFile(resolved);
    validators.set(resolved, v);
  }
  return v;
}

export interface As3Settings {
  readonly validator: As3Validator | undefined;
  readonly operationMs: number;
  readonly syncLimitMs: number;
}

export class As3Service {
  private readonly validator: As3Validator | undefined;
  private readonly operationMs: number;
  private readonly syncLimitMs: number;
  private readonly tasks = new Map<string, TaskRecord>();
  private busy = false;
  /** Bumped by a reboot: an AS3 operation started before it is abandoned. */
  private generation = 0;

  constructor(
    settings: As3Settings,
    private readonly device: Device,
    private readonly clock: () => number,
    private readonly timers: Timers,
    private readonly errors: ErrorAnswers,
  ) {
    this.validator = settings.validator;
    this.operationMs = settings.operationMs;
    this.syncLimitMs = settings.syncLimitMs;
  }

  /** Whether an AS3 operation (declare or delete) is running. */
  public operationRunning(): boolean {
    return this.busy;
  }

  /** A reboot: a running operation is abandoned and the task records are gone. */
  public reboot(): void {
    this.generation++;
    this.busy = false;
    this.tasks.clear();
  }

  /** `GET /mgmt/shared/appsvcs/task`. */
  public taskList(): [number, unknown] {
    return [200, { items: [...this.tasks.values()].map((t) => structuredClone(t)) }];
  }

  /** `GET /mgmt/shared/appsvcs/task/<id>`. */
  public task(id: string): [number, unknown] {
    const record = this.tasks.get(id);
    if (!record) throw new HttpError(404, { code: 404, message: `No record found with ID of ${id}` });
    return [200, structuredClone(record)];
  }

  /** `GET /mgmt/shared/appsvcs/info`. */
  public info(): [number, unknown] {
    return [200, { ...AS3_VERSION }];
  }

  private parseTenantFilter(param: string | undefined): string[] | undefined {
    if (param === undefined) return undefined;
    const names = param.split(',').map((s) => s.trim());
    for (const n of names) {
      if (!AS3_NAME.test(n)) throw new HttpError(400, { code: 400, message: `Invalid tenant name ${JSON.stringify(n)} in the URL path` });
    }
    return names;
  }

  /**
   * `GET /declare[/<tenants>]`: the stored declaration. A tenant filter keeps Common and
   * answers 404 when any named tenant is missing (AS3 `src/lib/declarationHandler.js:137-174`);
   * no stored tenant is 204 (`:211-223`).
   */
  private readDeclaration(filter: readonly string[] | undefined): [number, unknown] {
    const stored = this.device.running.as3Declaration;
    if (!stored) {
      if (filter) throw new HttpError(404, { code: 404, message: 'declaration in specified path not found' });
      return [204, undefined];
    }
    const tenants = Object.keys(stored).filter((k) => isTenant(stored[k]));
    if (tenants.length === 0) return [204, undefined];
    if (!filter) return [200, structuredClone(stored)];
    const missing = filter.filter((t) => !tenants.includes(t));
    if (missing.length)
      throw new HttpError(404, { code: 404, message: `specified Tenant(s) '${missing.join(',')}' not found in declaration` });
    const out: Json = {};
    for (const [k, v] of Object.entries(stored)) if (!isTenant(v) || k === 'Common' || filter.includes(k)) out[k] = v;
    return [200, structuredClone(out)];
  }

  /**
   * The body AS3 answers when a request fails as a whole, before or instead of the tenant
   * loop: the code, the error's message, and the tenant list only for a single tenant (AS3
   * `src/lib/declarationHandler.js:938-990`). Nothing was changed.
   */
  private requestFailure(decl: Json, code: number, message: string): Json {
    const names = Object.keys(decl).filter((k) => isTenant(decl[k]));
    const list = names.includes('Common') ? ['Common', ...names.filter((n) => n !== 'Common'), 'Common'] : names;
    return {
      code,
      message,
      host: DEVICE_HOST,
      ...(list.length === 1 ? { tenant: list } : {}),
      ...(typeof decl.id === 'string' ? { declarationId: decl.id } : {}),
    };
  }

  /**
   * AS3 cannot take its configuration lock because another operation holds it: 503 with the
   * message of the lock's `Error` (`toString()`, so "Error: ...") (AS3 `src/lib/mutex.js:56-63,
   * 123-128`).
   */
  private lockRefusal(op: As3Operation): Json {
    return this.requestFailure(op.declaration, 503, `Error: ${BUSY_MESSAGE(DEVICE_HOST)}`);
  }

  public async declareResource(method: string, param: string | undefined, body: unknown, url: URL): Promise<[number, unknown]> {
    const filter = this.parseTenantFilter(param);
    if (method === 'GET') return this.readDeclaration(filter);
    if (method !== 'POST' && method !== 'DELETE') throw this.errors.methodNotAllowed(method, url.pathname);

    const asyncMode = url.searchParams.get('async') === 'true';
    let op: As3Operation;
    if (method === 'DELETE') {
      // DELETE is AS3's `action: remove` (AS3 `src/lib/context/requestContext.js:255-257`).
      op = { action: 'remove', filter, declaration: {}, request: undefined, dryRun: false, persist: true };
    } else {
      const parsed = this.parseDeclareBody(body, url);
      if ('errors' in parsed) {
        if (!asyncMode)
          throw new HttpError(422, { code: 422, message: 'declaration is invalid', errors: parsed.errors, declarationFullId: '' });
        op = { action: 'invalid', errors: parsed.errors, filter, declaration: {}, request: undefined, dryRun: false, persist: false };
      } else {
        op = { ...parsed, filter };
        if (op.action === 'retrieve') return this.readDeclaration(filter);
      }
    }

    const id = randomUUID();
    const declarationId = typeof op.declaration.id === 'string' ? op.declaration.id : undefined;
    const withId = declarationId !== undefined ? { declarationId } : {};
    // Task records as AS3's async handler shows them (AS3 `src/lib/asyncHandler.js:83-102, 214-234`).
    const record: TaskRecord = {
      id,
      results: [{ message: 'in progress', tenant: '', host: '', runTime: 0, code: 0, ...withId }],
      declaration: {},
      selfLink: `https://localhost/mgmt/shared/appsvcs/task/${id}`,
    };
    this.storeTask(record);
    const accepted = (): [number, unknown] => [
      202,
      {
        id,
        results: [{ message: 'Declaration successfully submitted', tenant: '', host: '', runTime: 0, code: 0, ...withId }],
        declaration: {},
        selfLink: record.selfLink,
      },
    ];
    if (this.busy && op.action !== 'invalid') {
      // The lock is tried after an async request was accepted, so the refusal is the task's
      // result, not an HTTP error (AS3 `src/lib/declareHandler.js:85-101, 763-772`).
      const refusal = this.lockRefusal(op);
      record.results = [refusal];
      if (asyncMode) return accepted();
      throw new HttpError(503, refusal);
    }

    this.busy = true;
    const generation = this.generation;
    const done = this.timers.delay(this.operationMs).then((): As3Outcome | undefined => {
      if (generation !== this.generation) return undefined; // rebooted meanwhile
      try {
        const outcome = this.runAs3(op);
        if ('invalid' in outcome) {
          record.results = [{ code: 422, message: 'declaration is invalid', errors: [...outcome.invalid], ...withId }];
        } else if ('refused' in outcome) {
          record.results = [outcome.refused];
        } else {
          record.results = outcome.results;
          record.declaration = outcome.declaration;
        }
        return outcome;
      } finally {
        this.busy = false;
      }
    });
    if (asyncMode) return accepted();
    // A synchronous request that runs past 45 s is answered with its task (AS3 `src/lib/declareHandler.js:749-760`).
    const finished = await this.timers.within(done, this.syncLimitMs);
    if (!finished) return accepted();
    if ('invalid' in finished)
      throw new HttpError(422, { code: 422, message: 'declaration is invalid', errors: finished.invalid, declarationFullId: '' });
    if ('refused' in finished) throw new HttpError(finished.refused.code as number, finished.refused);
    return [finished.status, { results: finished.results, declaration: finished.declaration }];
  }

  private storeTask(record: TaskRecord): void {
    this.tasks.set(record.id, record);
    while (this.tasks.size > AS3_TASK_RECORDS_MAX) {
      const oldest = this.tasks.keys().next().value as string;
      this.tasks.delete(oldest);
    }
  }

  /** Request (`class: AS3`) or bare ADC → operation, or validation errors. */
  private parseDeclareBody(body: unknown, url: URL): Omit<As3Operation, 'filter'> | { errors: string[] } {
    if (Array.isArray(body)) return { errors: ['/: arrays of declarations are not supported by this emulator; post one declaration'] };
    if (!isObject(body)) return { errors: ['/: body must be a JSON object (an AS3 request or an ADC declaration)'] };
    let action = 'deploy';
    let adc: unknown = body;
    let persist = true;
    if (body.class === 'AS3') {
      action = typeof body.action === 'string' ? body.action : 'deploy';
      adc = body.declaration;
      // `persist` defaults to true (AS3 `src/schema/latest/as3-request-schema.json`, "persist").
      if (body.persist !== undefined && typeof body.persist !== 'boolean') return { errors: ['/persist: must be boolean'] };
      persist = body.persist !== false;
      if (!['deploy', 'dry-run', 'remove', 'retrieve'].includes(action)) {
        return { errors: [`/action: "${action}" is not supported by this emulator (deploy, dry-run, remove, retrieve)`] };
      }
      if (action !== 'retrieve' && action !== 'remove' && !isObject(adc))
        return { errors: ['/declaration: must be an ADC declaration object'] };
    } else if (body.class !== 'ADC') {
      return { errors: [`/class: must be "AS3" or "ADC" (got ${JSON.stringify(body.class)})`] };
    }
    if (action === 'retrieve') return { action, declaration: {}, request: undefined, dryRun: false, persist: false };
    const declaration = isObject(adc) ? adc : {};
    const errors = isObject(adc) ? this.structuralErrors(declaration, body.class === 'AS3' ? '/declaration' : '') : [];
    if (errors.length) return { errors };
    const controls = isObject(declaration.controls) ? declaration.controls : {};
    const dryRun = action === 'dry-run' || controls.dryRun === true || url.searchParams.get('controls.dryRun') === 'true';
    return {
      action: action === 'dry-run' ? 'deploy' : action,
      declaration,
      request: body.class === 'AS3' ? body : undefined,
      dryRun,
      persist,
    };
  }

  /** The checks that hold even without the schema. */
  private structuralErrors(adc: Json, prefix: string): string[] {
    const errors: string[] = [];
    if (adc.class !== 'ADC') errors.push(`${prefix}/class: must be "ADC"`);
    if (typeof adc.schemaVersion !== 'string' || !/^3\.\d+(\.\d+)?$/.test(adc.schemaVersion)) {
      errors.push(`${prefix}/schemaVersion: must be an AS3 schema version such as "3.50.0"`);
    }
    if (adc.updateMode !== undefined && adc.updateMode !== 'selective' && adc.updateMode !== 'complete') {
      errors.push(`${prefix}/updateMode: must be "selective" or "complete"`);
    }
    for (const [name, tenant] of Object.entries(adc)) {
      if (ADC_HEADER_KEYS.has(name)) continue;
      if (!AS3_NAME.test(name) || name.length > 190) errors.push(`${prefix}/${name}: invalid tenant name`);
      if (!isTenant(tenant)) {
        errors.push(`${prefix}/${name}: must be a Tenant object`);
        continue;
      }
      for (const [appName, app] of Object.entries(tenant)) {
        if (!isApplication(app)) continue;
        for (const [itemName, item] of Object.entries(app)) {
          if (isObject(item) && item.class === 'Firewall_Address_List' && item.addresses !== undefined && !Array.isArray(item.addresses)) {
            errors.push(`${prefix}/${name}/${appName}/${itemName}/addresses: must be an array`);
          }
        }
      }
    }
    return errors;
  }

  /**
   * What AS3's parser rejects once the declaration is complete (after the stored Common was
   * added): F5's schema with its pointer checks when a schema is configured, else every `use`
   * pointer must resolve in the declaration (AS3 `src/lib/tag/pointerTag.js:76-100`,
   * `src/lib/util/extractUtil.js:155-211`).
   */
  private declarationErrors(decl: Json, op: As3Operation): string[] {
    if (this.validator) {
      const result = this.validator.validate(op.request ? { ...op.request, declaration: decl } : decl);
      return result.valid ? [] : [...result.errors];
    }
    const errors: string[] = [];
    for (const [tenantName, tenant] of Object.entries(decl)) {
      if (!isTenant(tenant)) continue;
      for (const [appName, app] of Object.entries(tenant)) {
        if (!isApplication(app)) continue;
        for (const [itemName, item] of Object.entries(app)) {
          if (!isObject(item)) continue;
          forEachUse(item, (pointer) => {
            const problem = pointerProblem(decl, pointer, tenantName, appName);
            if (problem) errors.push(`/${tenantName}/${appName}/${itemName}: pointer "${pointer}" ${problem}`);
          });
        }
      }
    }
    return errors;
  }

  /**
   * A `bigip` pointer that names nothing on the device. AS3 looks every `bigip` pointer up on the
   * device while it parses the declaration (the schema's `bigComponent` tag, e.g.
   * "Pointer_Route_Domain": "Pathname of existing BIG-IP route domain") and fails the whole
   * request with 422 "Unable to find <name> for <JSON pointer>" (AS3
   * `src/lib/tag/bigComponentTag.js:251-309`), before any tenant is touched; a declaration with a
   * top-level `scratch` skips the check (`:60-65`). What the device holds: route domains (by
   * path, so one named otherwise than its id is found by its name only), DNS resolvers, objects
   * AS3 deployed before this request, and `existingObjects`. The type of the object is not
   * checked (AS3 queries the module of the pointer's schema; unsettled here).
   */
  private missingBigipComponent(decl: Json): string | undefined {
    if (decl.scratch !== undefined) return undefined;
    for (const [tenantName, tenant] of Object.entries(decl)) {
      if (!isTenant(tenant)) continue;
      let missing: string | undefined;
      forEachBigip(tenant, (pointer, at) => {
        if (missing === undefined && !this.device.bigipComponentExists(pointer))
          missing = `Unable to find ${pointer} for /${[tenantName, ...at].join('/')}`;
      });
      if (missing) return missing;
    }
    return undefined;
  }

  /**
   * The stored Common that AS3 adds to a declaration without Common that points into
   * /Common/Shared (AS3 `src/lib/declarationHandler.js:600-611`). It reads the stored declaration
   * filtered by the tenants of the URL path, and that filter fails when a path tenant is not
   * stored yet (`:137-174, 190-222`): a new tenant posted to `/declare/<tenant>` gets no Common
   * (AS3 `test/unit/lib/declarationHandler.js`, "should include foo but not common from previous
   * declaration when posting to declare/foo"), so its pointers into /Common/Shared do not resolve.
   */
  private storedCommonFor(tenantsInPath: readonly string[]): Json | undefined {
    const stored = this.device.running.as3Declaration;
    if (!stored) return undefined;
    const storedTenants = Object.keys(stored).filter((k) => isTenant(stored[k]));
    if (storedTenants.length === 0) return undefined;
    if (tenantsInPath.some((t) => !storedTenants.includes(t))) return undefined;
    return isTenant(stored.Common) ? stored.Common : undefined;
  }

  /**
   * Runs one AS3 operation as AS3 3.56 does: tenant by tenant, each an all-or-nothing
   * transaction, a failed tenant leaving the others alone. A declaration with Common processes
   * it first and last (AS3 `src/lib/fetch.js:112-137`): the first pass only creates objects
   * that do not exist yet (`src/lib/fetch.js:2873`), the second modifies and deletes, and the
   * results come in that order, Common twice (`src/lib/audit.js:558-597`).
   */
  private runAs3(op: As3Operation): As3Outcome {
    if (op.action === 'invalid') return { invalid: op.errors ?? [] };
    const started = this.clock();
    const stored = this.device.running.as3Declaration;
    let decl: Json;
    if (op.action === 'remove') {
      // AS3 builds the declaration of a remove: the path's tenants emptied ("selective"), or
      // every stored tenant ("complete") (AS3 `src/lib/declareHandler.js:406-421`).
      // A POSTed `action: remove` names its tenants in its declaration (unsettled).
      const targets = op.filter ?? Object.keys(op.declaration).filter((k) => isTenant(op.declaration[k]));
      decl = { class: 'ADC', schemaVersion: '3.0.0', id: String(this.clock()), updateMode: targets.length ? 'selective' : 'complete' };
      const all = stored ? Object.keys(stored).filter((k) => isTenant(stored[k])) : [];
      for (const t of targets.length ? targets : all) decl[t] = { class: 'Tenant' };
    } else {
      decl = structuredClone(op.declaration);
      // Tenants of the body that the URL path does not name are dropped (AS3 `src/lib/declareHandler.js:139-167`).
      const tenantsInPath = op.filter ? op.filter.filter((t) => isTenant(decl[t])) : [];
      if (op.filter) for (const k of Object.keys(decl)) if (isTenant(decl[k]) && !tenantsInPath.includes(k)) delete decl[k];
      if (decl.updateMode === 'complete' && stored) {
        // Tenants not in a "complete" declaration are deleted (AS3 `src/lib/declarationHandler.js:523-535`).
        for (const k of Object.keys(stored)) if (isTenant(stored[k]) && !(k in decl)) decl[k] = { class: 'Tenant' };
      }
      if (!isTenant(decl.Common) && COMMON_SHARED_REFERENCE.test(JSON.stringify(decl))) {
        const common = this.storedCommonFor(tenantsInPath);
        if (common) decl.Common = structuredClone(common);
      }
      const errors = this.declarationErrors(decl, op);
      if (errors.length) return { invalid: errors };
      const iRuleErrors = iRuleDeclarationErrors(decl);
      if (iRuleErrors.length) return { invalid: iRuleErrors };
      const missing = this.missingBigipComponent(decl);
      if (missing) return { refused: this.requestFailure(decl, 422, missing) };
    }

    const names = Object.keys(decl).filter((k) => isTenant(decl[k]));
    const others = names.filter((n) => n !== 'Common');
    const order = names.includes('Common') ? ['Common', ...others, 'Common'] : others;
    const work = copyConfig(this.device.running);
    const results: BigipAs3Result[] = [];
    const failed = new Set<string>();
    const declarationId = typeof decl.id === 'string' ? decl.id : undefined;
    for (let i = 0; i < order.length; i++) {
      const name = order[i];
      const tenant = decl[name] as Json;
      // A tenant without applications is how AS3 is asked to delete it.
      const desired = Object.values(tenant).some(isApplication) ? tenant : undefined;
      const createOnly = name === 'Common' && i === 0 && order.length > 1;
      const outcome = this.device.applyPartition(work, name, desired, createOnly);
      if (outcome.code !== 200) failed.add(name);
      results.push({
        code: outcome.code,
        message: outcome.message,
        host: DEVICE_HOST,
        tenant: name,
        runTime: Math.max(0, this.clock() - started),
        ...(declarationId !== undefined ? { declarationId } : {}),
        ...(op.dryRun ? { dryRun: true } : {}),
        ...(outcome.response ? { response: outcome.response } : {}),
      });
    }
    if (results.length === 0) results.push({ code: 200, message: 'no change', host: DEVICE_HOST });

    // The stored declaration: previous tenants, the new ones that succeeded, this request's
    // header, `controls.archiveTimestamp` (AS3 `src/lib/declarationHandler.js:734-790`).
    const next: Json = {};
    for (const [k, v] of Object.entries(stored ?? {})) if (isTenant(v)) next[k] = v;
    for (const [k, v] of Object.entries(decl)) {
      if (!isTenant(v)) next[k] = v;
      else if (failed.has(k)) continue;
      else if (Object.values(v).some(isApplication)) next[k] = v;
      else delete next[k];
    }
    next.controls = { ...(isObject(decl.controls) ? decl.controls : {}), archiveTimestamp: new Date(this.clock()).toISOString() };
    const answered: Json = {};
    for (const [k, v] of Object.entries(next)) if (!isTenant(v) || results.some((r) => r.tenant === k)) answered[k] = v;

    if (!op.dryRun) {
      work.as3Declaration = next;
      this.device.setRunning(work);
      // AS3 saves the whole running configuration after the request unless `persist` is false
      // (AS3 `src/lib/declarationHandler.js:911-926, 1176-1269`).
      if (op.persist) this.device.save();
    }
    // 422 when nothing succeeded, 207 when some did (AS3 `src/lib/declarationHandler.js:894-901`).
    const succeeded = results.length - results.filter((r) => r.code !== 200).length;
    const status = succeeded === 0 ? 422 : succeeded === results.length ? 200 : 207;
    return { results, declaration: structuredClone(answered), status };
  }
}
