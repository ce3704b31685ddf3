/**
 * Who held an address when: a bounded history of address → pod intervals, fed by the pod
 * events the controller already watches. A flow log line arrives seconds after the packet and
 * pod addresses are reused within minutes, so the pod that holds an address *now* is the
 * wrong answer for an event of a minute ago; the interval that contains the event's time is
 * the right one.
 *
 * Bounds: closed intervals are forgotten `maxAgeMs` after they closed (pruned on every
 * update) and the whole history keeps at most `maxIntervals` intervals, dropping the oldest
 * closed ones first (and, only when every interval is open, the oldest open one). Both drops
 * are counted.
 */

/** What the controller knows of a pod at an event. */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly ips: readonly string[];
  readonly node?: string;
  /** Names of the Services (same namespace) selecting the pod. */
  readonly services?: readonly string[];
}

/** One address held by one pod from `from` until `to` (exclusive; open while undefined). */
export interface AddressInterval {
  readonly ip: string;
  readonly namespace: string;
  readonly pod: string;
  readonly node?: string;
  readonly services: readonly string[];
  readonly from: number;
  to?: number;
}

export interface AddressHistoryOptions {
  /** How long a closed interval is kept after it closed, in ms. @default 3_600_000 (one hour) */
  readonly maxAgeMs?: number;
  /** Most intervals kept, open and closed. @default 200_000 */
  readonly maxIntervals?: number;
}

export interface AddressHistoryStats {
  readonly intervals: number;
  readonly open: number;
  readonly expired: number;
  readonly evicted: number;
}

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class AddressHistory {
  private readonly byIp = new Map<string, AddressInterval[]>();
  /** Open intervals per pod. */
  private readonly openByPod = new Map<string, AddressInterval[]>();
  /** Closed intervals in the order they closed (oldest first), from `head` on. */
  private closed: AddressInterval[] = [];
  private head = 0;
  private count = 0;
  private expired = 0;
  private evicted = 0;
  private readonly maxAgeMs: number;
  private readonly maxIntervals: number;

  constructor(options: AddressHistoryOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    this.maxIntervals = Math.max(1, options.maxIntervals ?? 200_000);
  }

  /**
   * A pod was added or changed at `at` (ms): its addresses from now on are `pod.ips`. An
   * address another pod held is taken over (that pod's interval closes at `at`); addresses the
   * pod no longer has close. Same addresses and attributes: nothing changes.
   */
  podUpdated(at: number, pod: PodIdentity): void {
    const key = podKey(pod.namespace, pod.name);
    const services = [...(pod.services ?? [])].sort();
    // A copy: close() takes intervals out of the pod's open list.
    const current = [...(this.openByPod.get(key) ?? [])];
    const keep: AddressInterval[] = [];
    for (const iv of current) {
      const same = pod.ips.includes(iv.ip) && iv.node === pod.node && iv.services.join(',') === services.join(',');
      if (same) keep.push(iv);
      else this.close(iv, at);
    }
    for (const ip of new Set(pod.ips)) {
      if (keep.some((iv) => iv.ip === ip)) continue;
      const list = this.byIp.get(ip);
      const holder = list?.[list.length - 1];
      if (holder && holder.to === undefined) this.close(holder, at);
      const iv: AddressInterval = {
        ip,
        namespace: pod.namespace,
        pod: pod.name,
        ...(pod.node !== undefined ? { node: pod.node } : {}),
        services,
        from: at,
      };
      if (list) list.push(iv);
      else this.byIp.set(ip, [iv]);
      keep.push(iv);
      this.count++;
    }
    if (keep.length) this.openByPod.set(key, keep);
    else this.openByPod.delete(key);
    this.prune(at);
  }

  /** The pod was deleted at `at`: its addresses are free from then on. */
  podDeleted(at: number, pod: Pick<PodIdentity, 'namespace' | 'name'>): void {
    const key = podKey(pod.namespace, pod.name);
    for (const iv of [...(this.openByPod.get(key) ?? [])]) this.close(iv, at);
    this.openByPod.delete(key);
    this.prune(at);
  }

  /** The interval of `ip` that contains `at`, or undefined (unknown address, or forgotten). */
  lookup(ip: string, at: number): AddressInterval | undefined {
    const list = this.byIp.get(ip);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const iv = list[i];
      if (iv.from <= at && (iv.to === undefined || at < iv.to)) return iv;
      if (iv.from <= at) return undefined;
    }
    return undefined;
  }

  stats(): AddressHistoryStats {
    let open = 0;
    for (const l of this.openByPod.values()) open += l.length;
    return { intervals: this.count, open, expired: this.expired, evicted: this.evicted };
  }

  private close(iv: AddressInterval, at: number): void {
    if (iv.to !== undefined) return;
    iv.to = Math.max(at, iv.from);
    const open = this.openByPod.get(podKey(iv.namespace, iv.pod));
    if (open) {
      const i = open.indexOf(iv);
      if (i >= 0) open.splice(i, 1);
      if (open.length === 0) this.openByPod.delete(podKey(iv.namespace, iv.pod));
    }
    this.closed.push(iv);
  }

  private forget(iv: AddressInterval): void {
    const list = this.byIp.get(iv.ip);
    if (!list) return;
    const i = list.indexOf(iv);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.byIp.delete(iv.ip);
    this.count--;
  }

  private prune(now: number): void {
    while (this.head < this.closed.length) {
      const iv = this.closed[this.head];
      const old = (iv.to as number) < now - this.maxAgeMs;
      if (!old && this.count <= this.maxIntervals) break;
      this.head++;
      this.forget(iv);
      if (old) this.expired++;
      else this.evicted++;
    }
    // Compact the queue once its dead head outgrows the live part.
    if (this.head > 1024 && this.head * 2 > this.closed.length) {
      this.closed = this.closed.slice(this.head);
      this.head = 0;
    }
    // Only open intervals left and still too many: the oldest open ones go.
    while (this.count > this.maxIntervals) {
      let oldest: AddressInterval | undefined;
      for (const list of this.openByPod.values()) for (const iv of list) if (!oldest || iv.from < oldest.from) oldest = iv;
      if (!oldest) break;
      const open = this.openByPod.get(podKey(oldest.namespace, oldest.pod)) as AddressInterval[];
      open.splice(open.indexOf(oldest), 1);
      if (open.length === 0) this.openByPod.delete(podKey(oldest.namespace, oldest.pod));
      this.forget(oldest);
      this.evicted++;
    }
  }
}
