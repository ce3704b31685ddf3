/**
 * Shared pieces of the BIG-IP client and emulator tests: raw HTTPS calls that trust the
 * emulator's CA, small AS3 declarations, a manual clock and a sleep that does not wait.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent } from 'undici';
import { BigipClient, BigipClientOptions, BigipLogger } from '../../../lib/clients/bigip';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { packageRoot } from '../../../lib/util';

export const AS3_SCHEMA_PATH = path.resolve(packageRoot(), '../shared/conformance/as3/as3-schema-3.56.0-10.json');
export const AS3_SCHEMA_PRESENT = fs.existsSync(AS3_SCHEMA_PATH);

const trustingAgent = new Agent({ connect: { ca: BigipEmulator.caCertificate() } });

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: any;
}

/** One HTTPS request to the emulator, verified against the test CA; never throws on status. */
export async function raw(
  device: BigipEmulator,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  urlPath: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['x-f5-auth-token'] = options.token;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await trustingAgent.request({ origin: device.url, path: urlPath, method, headers, body });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** Logs in with raw calls and returns the token. */
export async function loginRaw(device: BigipEmulator, username = 'admin', password = 'admin'): Promise<string> {
  const answer = await raw(device, 'POST', '/mgmt/shared/authn/login', { body: { username, password, loginProviderName: 'tmos' } });
  if (answer.status !== 200) throw new Error(`login failed: ${answer.status} ${answer.text}`);
  return answer.json.token.token as string;
}

/** A settable clock shared by an emulator and a client. */
export class ManualClock {
  constructor(public nowMs = Date.UTC(2030, 0, 1)) {}
  public readonly now = (): number => this.nowMs;
  public advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** A sleep that records the requested delays and returns at once (still honours abort). */
export function recordingSleep(): { sleep: (ms: number, signal: AbortSignal) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms, signal) => {
      if (signal.aborted) throw signal.reason;
      delays.push(ms);
      await new Promise((r) => setImmediate(r));
      if (signal.aborted) throw signal.reason;
    },
  };
}

/** Log lines kept in memory. */
export function memoryLogger(): BigipLogger & { lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, message, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A client for the emulator that trusts its CA and does not wait between retries. */
export function clientFor(device: BigipEmulator, overrides: Partial<BigipClientOptions> = {}): BigipClient {
  return new BigipClient({
    url: device.url,
    username: 'admin',
    password: 'admin',
    caBundle: BigipEmulator.caCertificate(),
    sleep: recordingSleep().sleep,
    logger: memoryLogger(),
    ...overrides,
  });
}

/** Task id of a list path. */
export function taskIdOf(listPath: string): string {
  return listPath.replace(/\//g, '~');
}

/**
 * A small declaration in this project's layout: shared event-driven source lists and the
 * global policy in /Common/Shared, a tenant with a static list and its own event list.
 */
export function egressDeclaration(
  options: { tenant?: string; sourceLists?: readonly string[]; withGlobalPolicy?: boolean; routeDomain?: number } = {},
): Record<string, any> {
  const tenant = options.tenant ?? 'k8s_prod';
  const lists = options.sourceLists ?? ['src_cluster', 'src_ns_payments'];
  const shared: Record<string, unknown> = { class: 'Application', template: 'shared' };
  for (const l of lists) shared[`${tenant}_${l}`] = { class: 'Firewall_Address_List', addresses: [{ addressDiscovery: 'event' }] };
  shared[`${tenant}_dst_dns`] = { class: 'Firewall_Address_List', addresses: ['10.96.0.10'] };
  shared[`${tenant}_cluster_rules`] = {
    class: 'Firewall_Rule_List',
    rules: [
      {
        name: 'allow_dns',
        action: 'accept',
        protocol: 'udp',
        source: { addressLists: [{ use: `/Common/Shared/${tenant}_${lists[0]}` }] },
        destination: { addressLists: [{ use: `/Common/Shared/${tenant}_dst_dns` }] },
      },
    ],
  };
  if (options.withGlobalPolicy !== false) {
    shared[`${tenant}_global_policy`] = { class: 'Firewall_Policy', rules: [{ use: `/Common/Shared/${tenant}_cluster_rules` }] };
  }
  if (options.routeDomain !== undefined) {
    shared[`${tenant}_rd_policy`] = {
      class: 'Firewall_Policy',
      rules: [{ use: `/Common/Shared/${tenant}_cluster_rules` }],
      routeDomainEnforcement: [{ bigip: `/Common/${options.routeDomain}` }],
    };
  }
  return {
    class: 'AS3',
    action: 'deploy',
    persist: true,
    declaration: {
      class: 'ADC',
      schemaVersion: '3.50.0',
      id: `cdktf-ces-${tenant}`,
      Common: { class: 'Tenant', Shared: shared },
      [tenant]: {
        class: 'Tenant',
        egress: {
          class: 'Application',
          src_svc_shop_checkout: { class: 'Firewall_Address_List', addresses: [{ addressDiscovery: 'event' }] },
          static_list: { class: 'Firewall_Address_List', addresses: ['192.0.2.0/24'] },
        },
      },
    },
  };
}
