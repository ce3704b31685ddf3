/**
 * AFM network-firewall events as the BIG-IP's remote high-speed log sends them.
 *
 * Framing (what `lib/afm/as3.ts` configures): a `Log_Destination` of type `remote-syslog` with
 * `format: 'rfc5424'` over a `remote-high-speed-log` destination, so each event is one RFC 5424
 * message, `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG` (RFC 5424
 * section 6), sent over TCP (RFC 6587 framing, see `framing.ts`) or UDP (RFC 5426: one message
 * per datagram).
 *
 * The message body comes in one of the two forms the AFM `Security_Log_Profile` network
 * section produces (AS3 3.56 schema, `Security_Log_Profile_Network.storageFormat`):
 * - a field list (`storageFormat: { fields, delimiter }`, tmsh `format { type field-list }`),
 *   what our renderer sets: the values of the configured fields, in the configured order, joined
 *   by the delimiter (`,`); a value may be in double quotes (read with or without them, never
 *   with a quote or the delimiter inside). The names are those of the schema's enum
 *   (`acl-rule-name`, `src-ip`, …; `LOG_FIELDS` in `lib/policy/log-fields.ts`), so the parser must be
 *   told the device's field list (`DeviceModel.logging.fields`).
 * - the predefined format (no storage format): `key="value"` pairs separated by commas, with the
 *   names F5 documents for AFM network events (`acl_policy_name`, `acl_policy_type`,
 *   `acl_rule_name`, `action`, `context_name`, `context_type`, `date_time`, `dest_ip`,
 *   `dest_port`, `drop_reason`, `ip_protocol`, `route_domain`, `source_ip`, `source_port`,
 *   `vlan`, `hostname`, `bigip_mgmt_ip`, `dest_fqdn`, …). The same pairs inside an RFC 5424
 *   structured-data element (`[F5@12276 key="value" …]`) are read too.
 *
 * `date_time` is `Mmm dd yyyy HH:MM:SS` in the device's clock without a zone: the event time is
 * the RFC 5424 TIMESTAMP (which has one) and `date_time` only when the header has none, read as
 * UTC. Actions are `Accept`, `Accept Decisively`, `Drop` and `Reject`; a hit in a staged policy
 * has `acl_policy_type` `Staged` (what an audit rule logs: it never changes the verdict).
 *
 * Nothing here throws on input: a line is an event or a {@link RejectReason}, and every value
 * that reaches an event has been checked against a strict pattern, so it cannot carry control
 * characters, quotes or markup into the JSON lines or reports built from it.
 */
import { tryParseIp } from '../policy/ip';
import { DEFAULT_LOG_FIELDS, LOG_FIELDS } from '../policy/log-fields';

/** Why a line was dropped; each is a counter label, so the set is closed. */
export const REJECT_REASONS = [
  'too-long',
  'control-character',
  'not-syslog',
  'bad-timestamp',
  'not-afm-event',
  'bad-field-count',
  'bad-address',
  'bad-port',
  'bad-protocol',
  'bad-action',
  'bad-name',
  'bad-route-domain',
  'bad-encoding',
  'queue-full',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** AFM actions, lower case with dashes. */
export const FLOW_ACTIONS = ['accept', 'accept-decisively', 'drop', 'reject'] as const;
export type FlowAction = (typeof FLOW_ACTIONS)[number];

/** One AFM network-firewall event. Optional fields are absent when the device did not send them. */
export interface FlowEvent {
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  /** HOSTNAME of the syslog header, or the bigip-hostname field. */
  readonly device?: string;
  readonly action: FlowAction;
  readonly sourceIp: string;
  readonly sourcePort?: number;
  readonly destinationIp: string;
  readonly destinationPort?: number;
  /** Lower-case protocol name (`tcp`, `udp`, `icmp`) or number. */
  readonly protocol: string;
  /** `Virtual Server`, `Route Domain`, `Global`, … as the device wrote it. */
  readonly contextType?: string;
  readonly contextName?: string;
  readonly policy?: string;
  /** `Enforced` or `Staged`. */
  readonly policyType?: string;
  readonly rule?: string;
  readonly routeDomain?: number;
  readonly vlan?: string;
  readonly dropReason?: string;
  /** The DNS name the device saw for the destination (predefined format only). */
  readonly destinationFqdn?: string;
}

export type ParseResult = { readonly ok: true; readonly event: FlowEvent } | { readonly ok: false; readonly reason: RejectReason };

export interface ParseOptions {
  /**
   * The device's storage-format field list (`DeviceModel.logging.fields`), for messages in the
   * field-list form. @default DEFAULT_LOG_FIELDS of lib/policy/log-fields.ts
   */
  readonly fields?: readonly string[];
  /** Longest line in bytes (UTF-16 units after decoding). @default 8192 */
  readonly maxLength?: number;
}

export const DEFAULT_MAX_LINE = 8192;

/** Predefined-format key → field-list name. Keys not listed are skipped (the format has many). */
const KEY_TO_FIELD: Readonly<Record<string, string>> = {
  date_time: 'date-time',
  action: 'action',
  context_type: 'context-type',
  context_name: 'context-name',
  acl_policy_name: 'acl-policy-name',
  acl_policy_type: 'acl-policy-type',
  acl_rule_name: 'acl-rule-name',
  source_ip: 'src-ip',
  src_ip: 'src-ip',
  source_port: 'src-port',
  src_port: 'src-port',
  dest_ip: 'dest-ip',
  dest_port: 'dest-port',
  ip_protocol: 'protocol',
  protocol: 'protocol',
  route_domain: 'route-domain',
  vlan: 'vlan',
  drop_reason: 'drop-reason',
  hostname: 'bigip-hostname',
  dest_fqdn: 'dest-fqdn',
};

/** Every field-list name the schema allows, plus dest-fqdn of the predefined format. */
const KNOWN_FIELDS = new Set<string>([...LOG_FIELDS, 'dest-fqdn']);

// Control characters, DEL, C1, bidi and zero-width format characters, separators, lone surrogates.
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const SYSLOG_HEADER = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const DATE_TIME = /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** BIG-IP object names and paths (`/Common/Shared/t_global_policy`, `n_payments_allow-db_tcp`). */
const OBJECT_NAME = /^[A-Za-z0-9_.\-/:~]{1,256}$/;
/** Free words the device writes: context types, policy types, drop reasons. */
const WORDS = /^[A-Za-z0-9 _.\-/()]{1,128}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.\-_]{0,252}[A-Za-z0-9])?$/;
const FQDN = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;
const PROTOCOL_NAME = /^[a-z][a-z0-9+\-/]{0,23}$/;
const DECIMAL = /^(0|[1-9]\d{0,9})$/;
const ACTIONS: Readonly<Record<string, FlowAction>> = {
  accept: 'accept',
  'accept decisively': 'accept-decisively',
  drop: 'drop',
  reject: 'reject',
};

const fail = (reason: RejectReason): ParseResult => ({ ok: false, reason });

/** Milliseconds of an RFC 3339 timestamp with field checks (no Date rollover), or undefined. */
function rfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (!validClock(y, mo, d, h, mi, s)) return undefined;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

function validClock(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60 || y < 1970) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** `Mmm dd yyyy HH:MM:SS`, read as UTC. */
function dateTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const mo = MONTHS.indexOf(m[1]) + 1;
  const [d, y, h, mi, s] = m.slice(2, 7).map(Number);
  if (!validClock(y, mo, d, h, mi, s)) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59));
}

/** Splits the structured data off the rest: `-` or one or more `[id k="v" …]` elements. */
function structuredData(text: string): { params: Map<string, string>; rest: string } | undefined {
  const params = new Map<string, string>();
  if (text.startsWith('-')) return { params, rest: text.slice(1) };
  let i = 0;
  while (text[i] === '[') {
    const idEnd = text.slice(i).search(/[ \]]/);
    if (idEnd < 0) return undefined;
    i += idEnd;
    while (text[i] === ' ') {
      const m = /^ ([A-Za-z0-9_.-]{1,32})="/.exec(text.slice(i, i + 40));
      if (!m) return undefined;
      i += m[0].length;
      let value = '';
      for (;;) {
        const c = text[i];
        if (c === undefined) return undefined;
        if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === ']')) {
          value += text[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      params.set(m[1], value);
    }
    if (text[i] !== ']') return undefined;
    i++;
  }
  if (i === 0) return undefined;
  return { params, rest: text.slice(i) };
}

/** `key="value",key="value"` (commas and/or spaces between pairs), or undefined when the body is not that form. */
function keyValues(body: string): Map<string, string> | undefined {
  const pairs = new Map<string, string>();
  const re = /\s*([a-z_]{1,40})="([^"]*)"\s*(,|$)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(body)) !== null) {
    pairs.set(m[1], m[2]);
    end = re.lastIndex;
    if (m[3] === '') break;
  }
  return end === body.length && pairs.size > 0 ? pairs : undefined;
}

/** Field-list values: each optionally in double quotes, joined by `delimiter`. */
function fieldListValues(body: string, delimiter: string): string[] {
  return body.split(delimiter).map((v) => (v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v));
}

function port(text: string | undefined): number | undefined | null {
  if (text === undefined || text === '') return undefined;
  if (!DECIMAL.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

/** An address as AFM logs it, optionally with its route domain (`10.0.0.1%2`). */
function address(text: string | undefined): { ip: string; rd?: number } | undefined {
  if (text === undefined) return undefined;
  const pct = text.indexOf('%');
  const ip = tryParseIp(pct < 0 ? text : text.slice(0, pct));
  if (!ip) return undefined;
  if (pct < 0) return { ip: ip.text };
  const rd = text.slice(pct + 1);
  if (!DECIMAL.test(rd) || Number(rd) > 65534) return undefined;
  return { ip: ip.text, rd: Number(rd) };
}

/** Turns the named values into an event. */
function toEvent(fields: ReadonlyMap<string, string>, headerTime: number | undefined, headerHost: string | undefined): ParseResult {
  const get = (name: string) => {
    const v = fields.get(name);
    return v === undefined || v === '' ? undefined : v;
  };
  const actionText = get('action');
  const srcText = get('src-ip');
  const dstText = get('dest-ip');
  if (actionText === undefined || srcText === undefined || dstText === undefined) return fail('not-afm-event');
  const action = ACTIONS[actionText.toLowerCase()];
  if (!action) return fail('bad-action');
  const src = address(srcText);
  const dst = address(dstText);
  if (!src || !dst) return fail('bad-address');
  const sourcePort = port(get('src-port'));
  const destinationPort = port(get('dest-port'));
  if (sourcePort === null || destinationPort === null) return fail('bad-port');
  const protocolText = (get('protocol') ?? '').toLowerCase();
  let protocol: string;
  if (DECIMAL.test(protocolText) && Number(protocolText) <= 255) protocol = protocolText;
  else if (PROTOCOL_NAME.test(protocolText)) protocol = protocolText;
  else return fail('bad-protocol');
  let time = headerTime;
  const dt = get('date-time');
  if (time === undefined) {
    if (dt === undefined) return fail('bad-timestamp');
    time = dateTime(dt);
    if (time === undefined) return fail('bad-timestamp');
  } else if (dt !== undefined && dateTime(dt) === undefined) {
    return fail('bad-timestamp');
  }
  let routeDomain: number | undefined;
  const rdText = get('route-domain');
  if (rdText !== undefined) {
    if (!DECIMAL.test(rdText) || Number(rdText) > 65534) return fail('bad-route-domain');
    routeDomain = Number(rdText);
  }
  routeDomain ??= src.rd;
  for (const name of ['context-name', 'acl-policy-name', 'acl-rule-name', 'vlan']) {
    const v = get(name);
    if (v !== undefined && !OBJECT_NAME.test(v)) return fail('bad-name');
  }
  for (const name of ['context-type', 'acl-policy-type', 'drop-reason']) {
    const v = get(name);
    if (v !== undefined && !WORDS.test(v)) return fail('bad-name');
  }
  const host = get('bigip-hostname') ?? headerHost;
  if (host !== undefined && !HOST.test(host)) return fail('bad-name');
  let fqdn = get('dest-fqdn')?.toLowerCase();
  if (fqdn !== undefined) {
    if (!FQDN.test(fqdn)) return fail('bad-name');
    fqdn = fqdn.replace(/\.$/, '');
  }
  const opt = (key: string, value: string | number | undefined) => (value === undefined ? {} : { [key]: value });
  const event: FlowEvent = {
    time: new Date(time).toISOString(),
    ...opt('device', host),
    action,
    sourceIp: src.ip,
    ...opt('sourcePort', sourcePort),
    destinationIp: dst.ip,
    ...opt('destinationPort', destinationPort),
    protocol,
    ...opt('contextType', get('context-type')),
    ...opt('contextName', get('context-name')),
    ...opt('policy', get('acl-policy-name')),
    ...opt('policyType', get('acl-policy-type')),
    ...opt('rule', get('acl-rule-name')),
    ...opt('routeDomain', routeDomain),
    ...opt('vlan', get('vlan')),
    ...opt('dropReason', get('drop-reason')),
    ...opt('destinationFqdn', fqdn),
  };
  return { ok: true, event };
}

/**
 * A reusable parser for one device's field list. `parse` takes one syslog message (without
 * framing, trailing CR/LF already removed) and never throws.
 */
export class AfmLogParser {
  private readonly fields: readonly string[];
  private readonly maxLength: number;

  constructor(options: ParseOptions = {}) {
    this.fields = options.fields ?? DEFAULT_LOG_FIELDS;
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LINE;
    const unknown = this.fields.find((f) => !KNOWN_FIELDS.has(f));
    // A programming error of the caller (the field list comes from a checked DeviceModel).
    if (unknown !== undefined) throw new Error(`AfmLogParser: "${unknown}" is not an AFM log field`);
  }

  parse(line: string): ParseResult {
    if (line.length > this.maxLength) return fail('too-long');
    // A byte-order mark may start MSG (RFC 5424 section 6.4); anywhere else it is a format character.
    if (CONTROL.test(line.replace(' \ufeff', ' '))) return fail('control-character');
    const h = SYSLOG_HEADER.exec(line);
    if (!h || Number(h[1]) > 191) return fail('not-syslog');
    let headerTime: number | undefined;
    if (h[2] !== '-') {
      headerTime = rfc3339(h[2]);
      if (headerTime === undefined) return fail('bad-timestamp');
    }
    const headerHost = h[3] === '-' ? undefined : h[3];
    const sd = structuredData(line.slice(h[0].length));
    if (!sd) return fail('not-syslog');
    // MSG follows after one space; RFC 5424 allows a UTF-8 byte-order mark before it.
    const body = sd.rest.replace(/^ /, '').replace(/^\ufeff/, '');
    const named = new Map<string, string>();
    const take = (pairs: ReadonlyMap<string, string>) => {
      for (const [k, v] of pairs) {
        const field = KEY_TO_FIELD[k];
        if (field !== undefined) named.set(field, v);
      }
    };
    take(sd.params);
    if (body !== '') {
      const pairs = keyValues(body);
      if (pairs) {
        take(pairs);
      } else {
        const values = fieldListValues(body, ',');
        if (values.length !== this.fields.length) return fail('bad-field-count');
        if (values.some((v) => v.includes('"'))) return fail('bad-field-count');
        this.fields.forEach((f, i) => named.set(f, values[i]));
      }
    }
    return toEvent(named, headerTime, headerHost);
  }
}
