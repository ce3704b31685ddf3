/**
 * Watches: the per-resource watch cache (its event window bounded by count and time, as
 * watch_cache.go sizes it), watch streams with the filtering translation of the cacher,
 * bookmarks (periodic, on request, before a watch's deadline, and the initial-events-end
 * bookmark), timeouts, slow-watcher drops, and the faults tests inject into open watches.
 */
import type * as http from 'node:http';
import { badRequest, statusObject } from './errors';
import {
  EmulatedObject,
  FieldSelector,
  HistoryEvent,
  LabelSelector,
  ObjectStore,
  ResourceInfo,
  Route,
  fieldsMatch,
  labelsMatch,
  parseFieldSelector,
  parseLabelSelector,
} from './store';

export interface WatchOptions {
  readonly cacheMin: number;
  readonly cacheMax: number;
  readonly cacheWindowMs: number;
  readonly defaultWatchTimeoutSeconds: number;
  readonly maxWatchBufferBytes: number;
  readonly bookmarkIntervalMs: number;
}

/** The event window of one resource's watch cache (watch_cache.go). */
export interface WatchCache {
  events: HistoryEvent[];
  head: number;
  capacity: number;
  /** A watch from a resourceVersion below this gets 410 (`oldest - 1` upstream). */
  floorRv: number;
}

export interface Watcher {
  readonly res: ResourceInfo;
  readonly namespace?: string;
  readonly labels?: LabelSelector;
  readonly fields?: FieldSelector;
  readonly bookmarks: boolean;
  readonly response: http.ServerResponse;
  timer?: NodeJS.Timeout;
  deadlineBookmark?: NodeJS.Timeout;
  closed: boolean;
  /** Writes go nowhere and nothing closes it: a connection that died silently. */
  stalled: boolean;
}

export class WatchHub {
  private readonly cacheMin: number;
  private readonly cacheMax: number;
  private readonly cacheWindowMs: number;
  private readonly defaultWatchTimeoutSeconds: number;
  private readonly maxWatchBufferBytes: number;
  private bookmarkIntervalMs: number;
  private bookmarkTimer?: NodeJS.Timeout;
  /** Periodic bookmarks run only while the server listens. */
  private serving = false;

  constructor(
    private readonly store: ObjectStore,
    options: WatchOptions,
  ) {
    this.cacheMin = options.cacheMin;
    this.cacheMax = options.cacheMax;
    this.cacheWindowMs = options.cacheWindowMs;
    this.defaultWatchTimeoutSeconds = options.defaultWatchTimeoutSeconds;
    this.maxWatchBufferBytes = options.maxWatchBufferBytes;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs;
  }

  private get resources(): Map<string, ResourceInfo> {
    return this.store.resources;
  }

  /** The empty watch cache of a resource served from revision `rv` on. */
  public newCache(rv: number): WatchCache {
    return { events: [], head: 0, capacity: this.cacheMin, floorRv: rv };
  }

  /** Follows one stored event: into the resource's watch cache, out to its open watches. */
  public onCommit(event: HistoryEvent): void {
    this.cacheEvent(event.res.cache, event);
    for (const w of event.res.watchers) this.deliver(w, event);
  }

  /** The server listens: periodic bookmarks start. */
  public serve(): void {
    this.serving = true;
    this.scheduleBookmarks();
  }

  /** The server stops listening: periodic bookmarks stop and every open watch is reset. */
  public shutDown(): void {
    this.serving = false;
    this.scheduleBookmarks();
    for (const res of this.resources.values()) for (const w of [...res.watchers]) this.closeWatcher(w, 'reset');
  }

  /** Every watch cache drops the events up to `target` (watches from older versions get 410). */
  public compact(target: number): void {
    for (const res of this.resources.values()) {
      const c = res.cache;
      while (c.head < c.events.length && c.events[c.head].rv <= target) c.head++;
      c.floorRv = Math.max(c.floorRv, target);
      trimCache(c);
    }
  }

  /** The new watch caches of a restarted server list at the current revision (watch_cache.go `Replace`). */
  public resetCaches(): void {
    for (const res of this.resources.values()) resetCache(res.cache, this.store.rv);
  }

  /** Ends the watches of a resource that is no longer served. */
  public closeResource(res: ResourceInfo): void {
    for (const w of [...res.watchers]) this.closeWatcher(w, 'close');
  }
  /**
   * Ends every open watch. `reset` destroys the connections (a network failure); `close` ends
   * the responses cleanly, as when a watch times out on the server.
   */
  public dropWatches(mode: 'reset' | 'close' = 'reset'): number {
    let n = 0;
    for (const res of this.resources.values()) {
      for (const w of [...res.watchers]) {
        n++;
        this.closeWatcher(w, mode);
      }
    }
    return n;
  }

  /**
   * Silently kills every open watch: the connections stay open, but nothing (no event, no
   * bookmark, no timeout close) reaches the client any more, as when a NAT or load balancer
   * drops the flow without telling either end. Returns how many watches were stalled.
   */
  public stallWatches(): number {
    let n = 0;
    for (const res of this.resources.values()) {
      for (const w of [...res.watchers]) {
        n++;
        w.stalled = true;
        if (w.timer) clearTimeout(w.timer);
        if (w.deadlineBookmark) clearTimeout(w.deadlineBookmark);
        res.watchers.delete(w);
      }
    }
    return n;
  }

  /** Number of open (not stalled) watch connections. */
  public get openWatches(): number {
    let n = 0;
    for (const res of this.resources.values()) n += res.watchers.size;
    return n;
  }

  /** Sends a BOOKMARK now on every watch that allows bookmarks. */
  public sendBookmarks(): void {
    for (const res of this.resources.values()) {
      for (const w of res.watchers) if (w.bookmarks) this.sendBookmark(w);
    }
  }

  /** Changes the periodic bookmark interval (0 stops periodic bookmarks). */
  public setBookmarkInterval(ms: number): void {
    this.bookmarkIntervalMs = Math.max(0, ms);
    this.scheduleBookmarks();
  }

  private scheduleBookmarks(): void {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    this.bookmarkTimer = undefined;
    if (this.bookmarkIntervalMs > 0 && this.serving) {
      this.bookmarkTimer = setInterval(() => this.sendBookmarks(), this.bookmarkIntervalMs);
      this.bookmarkTimer.unref();
    }
  }

  /**
   * Adds an event to a resource's watch cache, growing it while its oldest event is younger
   * than the window and shrinking it when even its newest quarter is older, between the
   * bounds; a full cache drops its oldest event (watch_cache.go `updateCache`, `resizeCacheLocked`).
   */
  private cacheEvent(c: WatchCache, ev: HistoryEvent): void {
    const size = c.events.length - c.head;
    if (size >= c.capacity) {
      if (ev.at - c.events[c.head].at < this.cacheWindowMs) {
        c.capacity = Math.min(c.capacity * 2, this.cacheMax);
      } else if (ev.at - c.events[c.events.length - Math.floor(c.capacity / 4)].at > this.cacheWindowMs) {
        const capacity = Math.max(Math.floor(c.capacity / 2), this.cacheMin);
        if (capacity < c.capacity) {
          c.head = c.events.length - capacity;
          c.capacity = capacity;
        }
      }
    }
    if (c.events.length - c.head >= c.capacity) c.head++;
    c.events.push(ev);
    // Once events were dropped, the oldest watch that can resume is one before the oldest kept event.
    if (c.head > 0) c.floorRv = Math.max(c.floorRv, c.events[c.head].rv - 1);
    trimCache(c);
  }

  private matches(w: Watcher, obj: EmulatedObject): boolean {
    if (w.namespace !== undefined && obj.metadata.namespace !== w.namespace) return false;
    if (w.labels && !labelsMatch(w.labels, obj.metadata.labels)) return false;
    if (w.fields && !fieldsMatch(w.fields, obj)) return false;
    return true;
  }

  /** Sends one stored event to a watcher, translated as the watch cache does for filtered watches. */
  private deliver(w: Watcher, ev: HistoryEvent): void {
    if (w.closed) return;
    const cur = this.matches(w, ev.entry.obj);
    if (ev.type === 'ADDED') {
      if (cur) this.write(w, `{"type":"ADDED","object":${ev.entry.json}}\n`);
    } else if (ev.type === 'DELETED') {
      if (cur) this.write(w, `{"type":"DELETED","object":${ev.entry.json}}\n`);
    } else {
      const before = ev.prev ? this.matches(w, ev.prev.obj) : false;
      if (cur && before) this.write(w, `{"type":"MODIFIED","object":${ev.entry.json}}\n`);
      else if (cur) this.write(w, `{"type":"ADDED","object":${ev.entry.json}}\n`);
      else if (before && ev.prev) {
        // No longer selected: the old state with the new resourceVersion, as a deletion.
        const gone = { ...ev.prev.obj, metadata: { ...ev.prev.obj.metadata, resourceVersion: String(ev.rv) } };
        this.write(w, `{"type":"DELETED","object":${JSON.stringify(gone)}}\n`);
      }
    }
  }

  private write(w: Watcher, line: string): void {
    if (w.closed || w.stalled) return;
    w.response.write(line);
    if (w.response.writableLength > this.maxWatchBufferBytes) this.closeWatcher(w, 'reset');
  }

  private sendBookmark(w: Watcher, annotations?: Record<string, string>): void {
    const metadata: Record<string, unknown> = { resourceVersion: String(this.store.rv) };
    if (annotations) metadata.annotations = annotations;
    this.write(w, `${JSON.stringify({ type: 'BOOKMARK', object: { kind: w.res.kind, apiVersion: w.res.apiVersion, metadata } })}\n`);
  }

  private closeWatcher(w: Watcher, mode: 'reset' | 'close'): void {
    if (w.closed) return;
    w.closed = true;
    if (w.timer) clearTimeout(w.timer);
    if (w.deadlineBookmark) clearTimeout(w.deadlineBookmark);
    w.res.watchers.delete(w);
    if (mode === 'reset') w.response.socket?.destroy();
    else w.response.end();
  }

  public start(route: Route, q: URLSearchParams, response: http.ServerResponse): void {
    const res = route.res;
    const labels = q.get('labelSelector') ? parseLabelSelector(q.get('labelSelector') ?? '') : undefined;
    const fieldText = [q.get('fieldSelector') ?? '', route.name ? `metadata.name=${route.name}` : ''].filter((s) => s).join(',');
    const fields = fieldText ? parseFieldSelector(fieldText, res) : undefined;
    const rvParam = q.get('resourceVersion') ?? '';
    const sendInitial = q.get('sendInitialEvents') === 'true';
    let fromRv: number | undefined;
    if (rvParam !== '' && rvParam !== '0' && !sendInitial) {
      fromRv = Number(rvParam);
      if (!/^\d+$/.test(rvParam)) badRequest(`invalid resource version "${rvParam}"`);
      if (fromRv > this.store.rv) this.store.tooLarge(fromRv);
    }
    const timeoutParam = q.get('timeoutSeconds');
    const timeoutSeconds = timeoutParam !== null && /^\d+$/.test(timeoutParam) ? Number(timeoutParam) : this.defaultWatchTimeoutSeconds;

    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    response.flushHeaders();
    const w: Watcher = {
      res,
      namespace: route.namespace,
      labels,
      fields,
      bookmarks: q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1',
      response,
      closed: false,
      stalled: false,
    };
    if (fromRv !== undefined && fromRv < res.cache.floorRv) {
      // The real server answers 200 and reports the expiry in the stream (watch_cache.go `getAllEventsSinceLocked`).
      const status = statusObject(410, 'Expired', `too old resource version: ${fromRv} (${res.cache.floorRv})`);
      response.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    if (fromRv === undefined) {
      for (const e of this.store.select(res, this.store.rv, route.namespace, labels, fields).items)
        this.write(w, `{"type":"ADDED","object":${e.json}}\n`);
      if (sendInitial && w.bookmarks) this.sendBookmark(w, { 'k8s.io/initial-events-end': 'true' });
    } else {
      const c = res.cache;
      for (let i = c.head; i < c.events.length; i++) if (c.events[i].rv > fromRv) this.deliver(w, c.events[i]);
    }
    if (w.closed) return;
    res.watchers.add(w);
    w.timer = setTimeout(() => this.closeWatcher(w, 'close'), timeoutSeconds * 1000);
    w.timer.unref();
    // A bookmark right before the deadline, so the client resumes from the latest version (cache_watcher.go `nextBookmarkTime`).
    if (w.bookmarks && timeoutSeconds > 2) {
      w.deadlineBookmark = setTimeout(() => this.sendBookmark(w), (timeoutSeconds - 2) * 1000);
      w.deadlineBookmark.unref();
    }
    response.on('close', () => {
      w.closed = true;
      if (w.timer) clearTimeout(w.timer);
      if (w.deadlineBookmark) clearTimeout(w.deadlineBookmark);
      res.watchers.delete(w);
    });
  }
}

/** A watch cache emptied by a fresh list at `rv` (watch_cache.go `Replace`). */
function resetCache(c: WatchCache, rv: number): void {
  c.events = [];
  c.head = 0;
  c.floorRv = rv;
}

function trimCache(c: WatchCache): void {
  if (c.head > 1024 && c.head * 2 > c.events.length) {
    c.events = c.events.slice(c.head);
    c.head = 0;
  }
}
