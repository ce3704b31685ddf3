/**
 * Leader election on a coordination.k8s.io/v1 Lease, with the semantics of client-go's
 * leaderelection package:
 * - a candidate takes the lease when it is free (no holder) or when the holder has not renewed
 *   it for `leaseDurationSeconds` as measured on the candidate's own clock since it last saw the
 *   lease change (so clock skew between replicas does not matter);
 * - every write carries the resourceVersion it read, so of two candidates racing only one wins
 *   (the other gets 409 Conflict, or 409 AlreadyExists when both create the lease);
 * - the leader renews every `retryPeriodMs`; if it cannot renew within `renewDeadlineMs`, or
 *   sees another holder, it stops leading (its work signal aborts) before the lease can expire
 *   for the others (renewDeadline < leaseDuration). The deadline is a timer: a renewal that
 *   hangs on a slow API server is abandoned when the deadline passes, as client-go bounds each
 *   renew round with a context deadline (leaderelection.go `renew`);
 * - stopping to lead waits for `onStoppedLeading` (the work winding down: the push in flight)
 *   before the lease is released or contested again, so an old leader's late write cannot land
 *   after the new leader's;
 * - on a graceful stop the leader releases the lease (empty holder) so a standby takes over at
 *   its next retry instead of waiting for expiry.
 */
import { Clock, systemClock } from '../../clients/clock';
import type { KubeClient } from '../../clients/kube/client';
import { KubeApiError } from '../../clients/kube/client';
import { KubeObject, LEASES } from '../../clients/kube/resources';

/** What the elector needs of the controller's clock; tests drive it by hand. */
export type LeaseClock = Pick<Clock, 'now' | 'sleep'>;

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  /** Lease name, one per controller deployment. */
  readonly name: string;
  /** Unique per replica, typically the pod name. */
  readonly identity: string;
  /** @default 15 */
  readonly leaseDurationSeconds?: number;
  /** @default 10000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  /** @default systemClock */
  readonly clock?: LeaseClock;
  /** Uniform in [0, 1), for retry jitter. @default Math.random */
  readonly random?: () => number;
  /** Called when this replica becomes leader; the signal aborts when it stops leading. */
  readonly onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /**
   * Called once this replica stopped leading (lost the lease or stopped), after the work signal
   * aborted. The lease is released, or contested again, only when the returned promise settles:
   * finish or abort in-flight writes here.
   */
  readonly onStoppedLeading?: () => void | Promise<void>;
  /** Called when a different holder is observed (including this replica). */
  readonly onNewLeader?: (identity: string) => void;
  /** Failed lease reads and writes (other than losing a race), for logs and metrics. */
  readonly onError?: (err: unknown) => void;
}

type Attempt = 'acquired' | 'held' | 'failed';
type Outcome = Attempt | 'deadline';

/** Lease times are MicroTime: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: LeaseClock;
  private readonly random: () => number;
  private readonly stopSignal = new AbortController();
  private running?: Promise<void>;
  private leading = false;
  /** When the current term's lease was acquired (the write was sent), on the elector's clock. */
  private leadingSince = 0;
  private releaseOnStop = true;
  /** The lease as last seen, and when (on our clock) it last changed. */
  private observed?: { spec: LeaseSpec; resourceVersion: string; at: number };
  private observedHolder?: string;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    if (!options.identity) throw new TypeError('LeaderElector: identity must not be empty; use the pod name');
    if (this.leaseDurationSeconds * 1000 <= this.renewDeadlineMs) {
      throw new TypeError(
        `LeaderElector: leaseDurationSeconds (${this.leaseDurationSeconds}s) must exceed renewDeadlineMs (${this.renewDeadlineMs}ms), or two replicas could lead at once`,
      );
    }
    if (this.renewDeadlineMs <= this.retryPeriodMs * 1.2) {
      throw new TypeError(
        `LeaderElector: renewDeadlineMs (${this.renewDeadlineMs}) must exceed 1.2 x retryPeriodMs (${this.retryPeriodMs})`,
      );
    }
  }

  /** Starts campaigning in the background. */
  public start(): void {
    if (!this.running && !this.stopSignal.signal.aborted) this.running = this.run();
  }

  /**
   * Stops campaigning. A leader stops its work and, unless `release` is false (simulating a
   * crash in tests), releases the lease so a standby takes over without waiting for expiry.
   */
  public async stop(options: { release?: boolean } = {}): Promise<void> {
    this.releaseOnStop = options.release ?? true;
    this.stopSignal.abort();
    await this.running;
  }

  public isLeader(): boolean {
    return this.leading;
  }

  /** The holder last observed on the lease ('' when free, undefined before the first read). */
  public get leader(): string | undefined {
    return this.observedHolder;
  }

  private get stopped(): boolean {
    return this.stopSignal.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Campaign until the lease is ours.
      for (;;) {
        if (this.stopped) break;
        const sentAt = this.clock.now();
        if ((await this.tryAcquireOrRenew(this.stopSignal.signal, this.renewDeadlineMs)) === 'acquired') {
          this.leadingSince = sentAt;
          break;
        }
        await this.clock.sleep(this.retryPeriodMs * (1 + 0.2 * this.random()), this.stopSignal.signal);
      }
      if (this.stopped) break;
      const work = new AbortController();
      this.leading = true;
      this.startWork(work.signal);

      let lastRenew = this.leadingSince;
      while (!this.stopped) {
        await this.clock.sleep(this.retryPeriodMs, this.stopSignal.signal);
        if (this.stopped) break;
        const startedAt = this.clock.now();
        const remaining = lastRenew + this.renewDeadlineMs - startedAt;
        if (remaining <= 0) break;
        const result = await this.renewBefore(remaining);
        if (result === 'acquired') {
          // Counted from when the renewal was sent: the others see it no earlier.
          lastRenew = startedAt;
          continue;
        }
        if (result !== 'failed' || this.clock.now() - lastRenew >= this.renewDeadlineMs) break;
      }
      // Stop working first and let the work wind down, then free the lease, so two replicas never work at once.
      this.leading = false;
      work.abort();
      await this.settle(() => this.options.onStoppedLeading?.());
      if (this.stopped && this.releaseOnStop) await this.release();
    }
  }

  /**
   * One renewal that must succeed within `remainingMs`: a timer on the elector's clock ends
   * it at the deadline and aborts the requests still in flight.
   */
  private async renewBefore(remainingMs: number): Promise<Outcome> {
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    this.stopSignal.signal.addEventListener('abort', stop, { once: true });
    try {
      const deadline = this.clock.sleep(remainingMs, attempt.signal).then((): Outcome => 'deadline');
      return await Promise.race([this.tryAcquireOrRenew(attempt.signal, remainingMs), deadline]);
    } finally {
      this.stopSignal.signal.removeEventListener('abort', stop);
      attempt.abort();
    }
  }

  private startWork(signal: AbortSignal): void {
    try {
      const r = this.options.onStartedLeading(signal);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((e) => this.report(e));
    } catch (e) {
      this.report(e);
    }
  }

  /** One read-and-maybe-write of the lease; `signal` abandons it. */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<Attempt> {
    const { client, namespace, name, identity } = this.options;
    const now = this.clock.now();
    let lease: LeaseObject;
    try {
      lease = await client.get<LeaseObject>(LEASES, name, namespace, { timeoutMs, signal });
    } catch (e) {
      if (!(e instanceof KubeApiError && e.notFound)) {
        if (!signal.aborted) this.report(e);
        return 'failed';
      }
      try {
        const created = await client.create<LeaseObject>(
          LEASES,
          {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: this.leaseDurationSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
          { timeoutMs, signal },
        );
        if (signal.aborted) return 'failed';
        this.observe(created, this.clock.now());
        return 'acquired';
      } catch (err) {
        if (!(err instanceof KubeApiError && err.conflict) && !signal.aborted) this.report(err);
        return 'failed';
      }
    }
    if (signal.aborted) return 'failed';

    const spec = lease.spec ?? {};
    this.observe(lease, now);
    const holder = spec.holderIdentity ?? '';
    const mine = holder === identity;
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    if (holder !== '' && !mine && this.observed && this.observed.at + durationMs > now) return 'held';

    const next: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      const updated = await client.replace<LeaseObject>(LEASES, { ...lease, spec: next }, { timeoutMs, signal });
      if (signal.aborted) return 'failed';
      this.observe(updated, this.clock.now());
      return 'acquired';
    } catch (e) {
      // 409: someone else wrote the lease since we read it; they won this round.
      if (!(e instanceof KubeApiError && e.conflict) && !signal.aborted) this.report(e);
      return 'failed';
    }
  }

  /** Records the lease; the observation time moves only when the holder's record changes. */
  private observe(lease: LeaseObject, at: number): void {
    const spec = lease.spec ?? {};
    const prev = this.observed;
    const changed =
      !prev ||
      prev.spec.holderIdentity !== spec.holderIdentity ||
      prev.spec.renewTime !== spec.renewTime ||
      prev.spec.acquireTime !== spec.acquireTime ||
      prev.spec.leaseDurationSeconds !== spec.leaseDurationSeconds;
    this.observed = { spec: { ...spec }, resourceVersion: lease.metadata.resourceVersion ?? '', at: changed ? at : (prev?.at ?? at) };
    const holder = spec.holderIdentity ?? '';
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      if (holder !== '') this.call(() => this.options.onNewLeader?.(holder));
    }
  }

  /** Gives the lease up (empty holder, one-second duration) if we still hold it. */
  private async release(): Promise<void> {
    const { client, namespace, name, identity } = this.options;
    try {
      const lease = await client.get<LeaseObject>(LEASES, name, namespace, { timeoutMs: this.renewDeadlineMs });
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(this.clock.now());
      await client.replace<LeaseObject>(
        LEASES,
        {
          ...lease,
          spec: {
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: lease.spec?.leaseTransitions ?? 0,
          },
        },
        { timeoutMs: this.renewDeadlineMs },
      );
    } catch (e) {
      // The lease then simply expires; the standby takes over a little later.
      this.report(e);
    }
  }

  private report(e: unknown): void {
    this.call(() => this.options.onError?.(e));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch {
      // Callbacks must not break the election loop.
    }
  }

  /** Runs a callback that may return a promise and waits for it; failures are reported, never thrown. */
  private async settle(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.report(e);
    }
  }
}
