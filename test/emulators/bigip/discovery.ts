/**
 * The service-discovery worker of the emulated device: one task per event-driven address list
 * (created and deleted with the list), `/mgmt/shared/service-discovery/task/<taskId>/nodes` to
 * read a task or replace its nodes, the addresses that reach the list, and a bounded history of
 * the node pushes for the tests and benchmarks.
 */
import * as net from 'node:net';
import { Device } from './device';
import { ErrorAnswers } from './http';
import { Json, isObject } from './json';
import { EventList } from './partition-index';

/** One replacement of a list's members through the service-discovery endpoint. */
export interface BigipNodePush {
  readonly taskId: string;
  /** When the emulator applied it (epoch ms from the emulator's clock). */
  readonly at: number;
  readonly ips: readonly string[];
}

const NODE_IP = /^([^%]+)(?:%(\d{1,5}))?$/;

interface SdTask {
  readonly path: string;
  /** The task's `providerOptions.nodeList`: node ips, in the order they were posted. */
  ips: readonly string[];
  /** Node ids, or undefined when every id equals its ip (saves memory on big lists). */
  ids: readonly string[] | undefined;
}

interface HistoryEntry {
  readonly taskId: string;
  readonly at: number;
  readonly joined: string;
  readonly count: number;
}

/** `addr[%rd]` as the service-discovery endpoint accepts it. */
function nodeIpProblem(ip: unknown): string | undefined {
  if (typeof ip !== 'string') return 'must be a string';
  const m = NODE_IP.exec(ip);
  if (!m || net.isIP(m[1]) === 0) return 'must be an IPv4 or IPv6 address with an optional %<routeDomain>';
  if (m[2] !== undefined && Number(m[2]) > 65534) return 'route domain must be 0..65534';
  return undefined;
}

export class ServiceDiscovery {
  private readonly tasks = new Map<string, SdTask>();
  private readonly history: HistoryEntry[] = [];
  private historyHead = 0;
  private historyIps = 0;

  constructor(
    private readonly device: Device,
    private readonly historyLimit: number,
    private readonly historyIpLimit: number,
    private readonly clock: () => number,
    private readonly errors: ErrorAnswers,
  ) {
    device.onRunningReplaced((lists) => this.syncTasks(lists));
  }

  /** Brings the tasks in line with the event-driven lists of a new running configuration. */
  private syncTasks(lists: ReadonlyMap<string, EventList>): void {
    // AS3 creates a task for a new event-driven list and deletes it with the list
    // (AS3 `src/lib/audit.js:127-150` cleans up tasks of failed tenants).
    for (const [taskId, task] of [...this.tasks]) {
      const list = lists.get(taskId);
      if (!list || list.path !== task.path) this.tasks.delete(taskId);
    }
    for (const [taskId, list] of lists) if (!this.tasks.has(taskId)) this.tasks.set(taskId, { path: list.path, ips: [], ids: undefined });
  }

  /**
   * The node ips of a list's service-discovery task (`providerOptions.nodeList`, what
   * `GET .../nodes` reports), which can differ from {@link listMembers}; undefined when the
   * task does not exist.
   */
  public discoveredNodes(pathOrTaskId: string): string[] | undefined {
    const task = this.tasks.get(pathOrTaskId.replace(/\//g, '~'));
    return task ? [...task.ips] : undefined;
  }

  /**
   * Node pushes kept in the history, oldest first, optionally for one list (path or task id)
   * and from a time on (epoch ms, inclusive).
   */
  public nodePushes(filter: { readonly list?: string; readonly since?: number } = {}): BigipNodePush[] {
    const taskId = filter.list?.replace(/\//g, '~');
    const out: BigipNodePush[] = [];
    for (let i = this.historyHead; i < this.history.length; i++) {
      const e = this.history[i];
      if (taskId !== undefined && e.taskId !== taskId) continue;
      if (filter.since !== undefined && e.at < filter.since) continue;
      out.push({ taskId: e.taskId, at: e.at, ips: e.count === 0 ? [] : e.joined.split(',') });
    }
    return out;
  }

  /**
   * The first push to a list, at or after `since`, whose members do not include `ip`: when the
   * IP left the list (for lag measurements). Undefined when no such push is in the history.
   */
  public firstPushWithout(list: string, ip: string, since = 0): BigipNodePush | undefined {
    const taskId = list.replace(/\//g, '~');
    for (let i = this.historyHead; i < this.history.length; i++) {
      const e = this.history[i];
      if (e.taskId !== taskId || e.at < since) continue;
      const ips = e.count === 0 ? [] : e.joined.split(',');
      if (!ips.includes(ip)) return { taskId, at: e.at, ips };
    }
    return undefined;
  }

  /**
   * A service-discovery task as the worker reports it (AS3
   * `test/integration/bigip/misc/serviceDiscovery.js:1268-1289`).
   */
  private taskState(taskId: string, task: SdTask): Json {
    const list = this.device.eventLists.get(taskId);
    return {
      id: taskId,
      updateInterval: 0,
      provider: 'event',
      providerOptions: { type: 'event', nodeList: task.ips.map((ip, i) => ({ id: task.ids ? task.ids[i] : ip, ip })) },
      resources: [],
      kind: 'shared:service-discovery:taskstate',
      nodePrefix: `/${task.path.split('/')[1]}/`,
      metadata: { configuredBy: 'AS3' },
      lastDiscoveryResult: { status: 'Success', message: 'Task was successful' },
      routeDomain: list?.routeDomain ?? 0,
    };
  }

  public nodesResource(method: string, taskId: string, body: unknown, pathname: string): [number, unknown] {
    const task = this.tasks.get(taskId);
    if (!task) {
      const staticList = [...this.device.running.partitions.values()]
        .map((p) => p.index.staticLists.get(taskId))
        .find((p) => p !== undefined);
      const why = staticList ? `: ${staticList} is a Firewall_Address_List without addresses [{"addressDiscovery": "event"}]` : '';
      throw this.errors.rest(404, `Service discovery task ${taskId} does not exist${why}`);
    }
    if (method === 'GET') {
      // F5's provider reads `result.providerOptions.nodeList` from this answer
      // (terraform-provider-bigip v1.28 `bigip/resource_bigip_event_service_discovery.go:93-98`).
      return [200, { result: this.taskState(taskId, task) }];
    }
    if (method !== 'POST') throw this.errors.methodNotAllowed(method, pathname);
    // The worker's validation of nodes is not published (unsettled); these checks are the emulator's.
    if (!Array.isArray(body)) throw this.errors.rest(400, 'Body must be a JSON array of nodes [{"id": "...", "ip": "..."}]');
    const ips: string[] = new Array(body.length);
    let ids: string[] | undefined;
    for (let i = 0; i < body.length; i++) {
      const node: unknown = body[i];
      if (!isObject(node)) throw this.errors.rest(400, `Invalid node at index ${i}: must be an object {"id": "...", "ip": "..."}`);
      const problem = nodeIpProblem(node.ip);
      if (problem) throw this.errors.rest(400, `Invalid node at index ${i}: "ip" ${problem} (got ${JSON.stringify(node.ip)})`);
      // A node of a namespace with a route domain of its own comes as `addr%id`. Whether the worker
      // keeps the suffix in the address-list entry it writes is not published (the worker is not in
      // AS3's repository): unsettled. Here it is kept as posted; docs/route-domains.md asks for a lab check.
      if (typeof node.id !== 'string' || node.id === '')
        throw this.errors.rest(400, `Invalid node at index ${i}: "id" must be a non-empty string`);
      ips[i] = node.ip as string;
      if (node.id !== node.ip) {
        if (!ids) ids = ips.slice(0, i);
        ids.push(node.id);
      } else if (ids) {
        ids.push(node.id);
      }
    }
    task.ips = ips;
    task.ids = ids;
    this.recordPush(taskId, ips);
    const list = this.device.eventLists.get(taskId);
    // The worker replaces the list's discovered addresses. An address list cannot be left
    // empty: AS3 never does so and adds a placeholder "to maintain a valid Firewall_Address_List"
    // (AS3 `docs/userguide/tips-warnings.rst:88`, `src/lib/map_cli.js:1027-1033`). What the
    // worker does with `[]` for a firewall address list is not published (unsettled); here mcpd
    // keeps the previous addresses, the stricter choice: a removal by `[]` does not take effect.
    // The POST is answered 200 either way, because the worker answers with the task before
    // applying the nodes (AS3 `test/integration/bigip/misc/serviceDiscovery.js:1193-1217`
    // waits 5 s before the pool follows).
    if (list && list.addresses.length + ips.length > 0) this.device.running.discovered.set(taskId, ips);
    // The answer is the task, echoing the nodes (AS3 `test/integration/bigip/misc/serviceDiscovery.js:537-542`).
    return [200, this.taskState(taskId, task)];
  }

  private recordPush(taskId: string, ips: readonly string[]): void {
    this.history.push({ taskId, at: this.clock(), joined: ips.join(','), count: ips.length });
    this.historyIps += ips.length;
    while (
      this.history.length - this.historyHead > this.historyLimit ||
      (this.historyIps > this.historyIpLimit && this.history.length - this.historyHead > 1)
    ) {
      this.historyIps -= this.history[this.historyHead].count;
      this.historyHead++;
    }
    // Compact occasionally instead of shifting on every push.
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history.splice(0, this.historyHead);
      this.historyHead = 0;
    }
  }
}
