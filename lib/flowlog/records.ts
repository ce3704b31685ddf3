/**
 * Reading the receiver's JSON lines back (for `report` and `suggest`): each line is checked
 * field by field; a line that is not a flow record is counted and skipped, never trusted.
 */
import * as readline from 'node:readline';
import { tryParseIp } from '../policy/ip';
import { FLOW_RECORD_FORMAT, FlowRecord } from './enrich';

/** Longest line read; longer ones are skipped as bad. */
const MAX_RECORD = 16_384;
const NAME = /^[A-Za-z0-9_.\-/:~ ()]{1,256}$/;
const VERDICTS = new Set(['allow', 'deny', 'reject']);

export interface RecordStats {
  read: number;
  skipped: number;
  /** Line number (1-based, per input) and input of the first skipped line. */
  firstSkipped?: { readonly input: string; readonly line: number };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optName = (v: unknown) => v === undefined || (typeof v === 'string' && NAME.test(v));
const optPort = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535);

/** The record, when `value` is one; undefined otherwise. */
export function asFlowRecord(value: unknown): FlowRecord | undefined {
  if (!isObject(value) || value.format !== FLOW_RECORD_FORMAT) return undefined;
  const { time, verdict, staged, source, destination, protocol, rule } = value;
  if (
    typeof time !== 'string' ||
    !Number.isFinite(Date.parse(time)) ||
    typeof verdict !== 'string' ||
    !VERDICTS.has(verdict) ||
    typeof staged !== 'boolean'
  )
    return undefined;
  if (typeof protocol !== 'string' || !/^[a-z0-9][a-z0-9+\-/]{0,23}$/.test(protocol)) return undefined;
  if (
    !isObject(source) ||
    typeof source.ip !== 'string' ||
    !tryParseIp(source.ip) ||
    !optPort(source.port) ||
    !optName(source.namespace) ||
    !optName(source.pod)
  )
    return undefined;
  if (
    source.services !== undefined &&
    !(Array.isArray(source.services) && source.services.every((s) => typeof s === 'string' && NAME.test(s)))
  )
    return undefined;
  if (
    !isObject(destination) ||
    typeof destination.ip !== 'string' ||
    !tryParseIp(destination.ip) ||
    !optPort(destination.port) ||
    !optName(destination.fqdn)
  )
    return undefined;
  if (!isObject(value.afm) || !optName(value.afm.rule)) return undefined;
  if (
    rule !== undefined &&
    !(
      isObject(rule) &&
      typeof rule.key === 'string' &&
      NAME.test(rule.key) &&
      typeof rule.kind === 'string' &&
      (rule.mode === 'audit' || rule.mode === 'enforced')
    )
  )
    return undefined;
  return value as unknown as FlowRecord;
}

/** Reads JSON lines from `stream`, calling `take` for each record in [since, until). */
export async function readFlowRecords(
  stream: NodeJS.ReadableStream,
  input: string,
  stats: RecordStats,
  window: { since?: number; until?: number },
  take: (r: FlowRecord) => void,
): Promise<void> {
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let record: FlowRecord | undefined;
    if (line.length <= MAX_RECORD) {
      try {
        record = asFlowRecord(JSON.parse(line));
      } catch {
        record = undefined;
      }
    }
    if (!record) {
      stats.skipped++;
      stats.firstSkipped ??= { input, line: n };
      continue;
    }
    const t = Date.parse(record.time);
    if ((window.since !== undefined && t < window.since) || (window.until !== undefined && t >= window.until)) continue;
    stats.read++;
    take(record);
  }
}

/** `namespace/service` (first Service), `namespace/pod`, or the bare address when no pod held it. */
export function workloadOf(r: FlowRecord): string {
  const s = r.source;
  if (s.namespace === undefined) return s.ip;
  if (s.services && s.services.length) return `${s.namespace}/${s.services[0]}`;
  return `${s.namespace}/${s.pod ?? s.ip}`;
}

export function destinationOf(r: FlowRecord): string {
  const host = r.destination.fqdn ?? (r.destination.ip.includes(':') ? `[${r.destination.ip}]` : r.destination.ip);
  return r.destination.port !== undefined && (r.protocol === 'tcp' || r.protocol === 'udp' || r.protocol === 'sctp')
    ? `${host}:${r.destination.port}${r.protocol === 'tcp' ? '' : `/${r.protocol}`}`
    : `${host}/${r.protocol}`;
}

/** Who decided: a rule (`NamespaceEgressRule payments/bank-sftp`), the device default, or an AFM rule of no rule of this policy. */
export function deciderOf(r: FlowRecord): string {
  if (r.rule) return `${r.rule.kind} ${r.rule.namespace !== undefined ? `${r.rule.namespace}/` : ''}${r.rule.name}`;
  if (r.defaultRule) return 'device default';
  return r.afm.rule !== undefined ? `AFM rule ${r.afm.rule} (not of this policy)` : 'not logged';
}
