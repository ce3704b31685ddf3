/**
 * What turns a Deployment into running, Ready pods on a real cluster, for deploy tests: the
 * deployment controller (pods per template, rolling update, status) and the kubelet (volume
 * mounts, containers, readiness probes), on top of the Kubernetes API emulator.
 *
 * Followed upstream (kubernetes/kubernetes, kubernetes/kubectl):
 * - pkg/controller/deployment (rolling.go, sync.go, util/deployment_util.go): pods are labelled
 *   with the template's `pod-template-hash`; a rolling update keeps at most `replicas +
 *   maxSurge` pods and at least `replicas - maxUnavailable` available ones, removes old pods
 *   that are not available first; status `observedGeneration`, `replicas`, `updatedReplicas`,
 *   `readyReplicas`, `availableReplicas` (`minReadySeconds` 0), `unavailableReplicas`, the
 *   Available and Progressing conditions (NewReplicaSetAvailable once complete,
 *   ProgressDeadlineExceeded after `progressDeadlineSeconds` without progress).
 * - plugin/pkg/admission/serviceaccount/admission.go: a pod naming a ServiceAccount that does
 *   not exist is refused ("error looking up service account"); Pod Security admission is the
 *   emulator's own.
 * - pkg/kubelet/volumemanager and volume/configmap, volume/secret: a pod whose ConfigMap or
 *   Secret volume (not `optional`) is missing stays Pending, container waiting in
 *   ContainerCreating, with a FailedMount event; a running container keeps the files it was
 *   started with when the object goes away, and a restarted one mounts again.
 * - pkg/kubelet/prober (prober.go `runProbe`, probe/http): a pod is Ready when its readiness
 *   probe answers 200–399; before the first success it is not.
 * - kubectl pkg/polymorphichelpers/rollout_status.go `DeploymentStatusViewer`: {@link rolloutStatus}.
 *
 * Time is scaled: the loop and the probes run every `intervalMs` instead of `periodSeconds`.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { EmulatedObject, KubeApiEmulator, ObjectRef } from './emulator';

type Obj = Record<string, any>;

/** A running container of a pod. */
export interface RunningContainer {
  /** Local port of each container port, by number. */
  readonly ports: Readonly<Record<number, number>>;
  /** Whether the process has ended (the kubelet restarts it, mounting its volumes again). */
  exited(): boolean;
  stop(): Promise<void>;
}

/** Starts the (first) container of a pod whose volumes are mounted. */
export type ContainerRunner = (pod: EmulatedObject) => Promise<RunningContainer>;

export interface WorkloadEmulatorOptions {
  readonly runner: ContainerRunner;
  /** Period of the controllers and of readiness probes. @default 50 */
  readonly intervalMs?: number;
}

/** The kubectl rollout status of a Deployment (rollout_status.go `DeploymentStatusViewer.Status`). */
export function rolloutStatus(deployment: EmulatedObject): { readonly message: string; readonly done: boolean; readonly error?: string } {
  const spec = (deployment.spec ?? {}) as Obj;
  const status = (deployment.status ?? {}) as Obj;
  const name = deployment.metadata.name ?? '';
  if ((deployment.metadata.generation ?? 0) > (status.observedGeneration ?? 0))
    return { message: 'Waiting for deployment spec update to be observed...', done: false };
  const progressing = ((status.conditions ?? []) as Obj[]).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return { message: '', done: false, error: `deployment "${name}" exceeded its progress deadline` };
  const updated = status.updatedReplicas ?? 0;
  const replicas = spec.replicas ?? 1;
  if (updated < replicas)
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...`,
      done: false,
    };
  if ((status.replicas ?? 0) > updated)
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...`,
      done: false,
    };
  if ((status.availableReplicas ?? 0) < updated)
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${status.availableReplicas ?? 0} of ${updated} updated replicas are available...`,
      done: false,
    };
  return { message: `deployment "${name}" successfully rolled out`, done: true };
}

/** An int-or-percent of `replicas` (deployment_util.go `ResolveFenceposts`: surge rounds up, unavailable down). */
function resolve(value: unknown, replicas: number, roundUp: boolean, fallback: string): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const pct = Number(String(v).replace(/%$/, '')) / 100;
  return roundUp ? Math.ceil(pct * replicas) : Math.floor(pct * replicas);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Obj)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

interface PodRun {
  phase: 'waiting' | 'starting' | 'running';
  container?: RunningContainer;
  ready: boolean;
  restarts: number;
  /** Why it is waiting, as the kubelet reports it. */
  waiting?: { reason: string; message?: string };
}

/** The deployment controller and the kubelets of an emulated cluster. */
export class WorkloadEmulator {
  private readonly intervalMs: number;
  private readonly runs = new Map<string, PodRun>();
  private readonly log: string[] = [];
  private readonly progress = new Map<string, { key: string; at: number }>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly kube: KubeApiEmulator,
    private readonly options: WorkloadEmulatorOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 50;
  }

  /** Starts reconciling every `intervalMs`. */
  public start(): this {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((e: unknown) => this.note(`error ${(e as Error).message}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
        });
    };
    loop();
    return this;
  }

  /** Stops the loop and every container. */
  public async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.runs.values()].map((r) => r.container?.stop()));
    this.runs.clear();
  }

  /**
   * Where traffic to a Service's port lands, as kube-proxy sends it: the Service's selector
   * picks the pods, only ready ones are endpoints (EndpointSlice `conditions.ready`), and the
   * port's `targetPort` (a container port name or number) is the pod's container port, here a
   * local port. The first ready endpoint by pod name; undefined when there is none.
   */
  public serviceEndpoint(
    namespace: string,
    name: string,
    port: number,
    protocol: 'TCP' | 'UDP',
  ): { readonly pod: string; readonly host: string; readonly port: number } | undefined {
    const service = this.kube.get({ apiVersion: 'v1', kind: 'Service', namespace, name }) as Obj | undefined;
    const entry = ((service?.spec?.ports ?? []) as Obj[]).find((p) => p.port === port && (p.protocol ?? 'TCP') === protocol);
    const selector = Object.entries((service?.spec?.selector ?? {}) as Record<string, string>);
    if (!entry || selector.length === 0) return undefined;
    const target = entry.targetPort ?? entry.port;
    const pods = this.kube
      .list({ apiVersion: 'v1', kind: 'Pod', namespace, labelSelector: selector.map(([k, v]) => `${k}=${v}`).join(',') })
      .sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
    for (const pod of pods) {
      const run = this.runs.get(`${namespace}/${pod.metadata.name}`);
      if (!run?.ready || !run.container || pod.metadata.deletionTimestamp) continue;
      const containerPort = ((pod.spec as Obj).containers ?? [])
        .flatMap((c: Obj) => (c.ports ?? []) as Obj[])
        .find(
          (p: Obj) => (typeof target === 'number' ? p.containerPort === target : p.name === target) && (p.protocol ?? 'TCP') === protocol,
        )?.containerPort as number | undefined;
      const local = containerPort === undefined ? undefined : run.container.ports[containerPort];
      if (local !== undefined) return { pod: pod.metadata.name as string, host: '127.0.0.1', port: local };
    }
    return undefined;
  }

  /** What happened, in order (`<Reason> <namespace>/<pod>: <message>`), like `kubectl get events`. */
  public events(): readonly string[] {
    return [...this.log];
  }

  private note(line: string): void {
    if (this.log[this.log.length - 1] !== line) this.log.push(line);
  }

  private async tick(): Promise<void> {
    for (const d of this.kube.list({ apiVersion: 'apps/v1', kind: 'Deployment' })) await this.syncDeployment(d);
    // Pods of Deployments that are gone (garbage collection of the ReplicaSets' pods).
    for (const [key, run] of [...this.runs]) {
      const [namespace, name] = key.split('/');
      if (!this.kube.get({ apiVersion: 'v1', kind: 'Pod', namespace, name })) {
        this.runs.delete(key);
        await run.container?.stop();
      }
    }
  }

  private async syncDeployment(d: EmulatedObject): Promise<void> {
    const spec = (d.spec ?? {}) as Obj;
    const namespace = d.metadata.namespace as string;
    const name = d.metadata.name as string;
    const replicas: number = spec.replicas ?? 1;
    const rolling = (spec.strategy?.rollingUpdate ?? {}) as Obj;
    const maxSurge = resolve(rolling.maxSurge, replicas, true, '25%');
    let maxUnavailable = resolve(rolling.maxUnavailable, replicas, false, '25%');
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    const hash = createHash('sha256').update(canonical(spec.template)).digest('hex').slice(0, 10);
    const selector = Object.entries((spec.selector?.matchLabels ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = this.kube
      .list({ apiVersion: 'v1', kind: 'Pod', namespace, labelSelector: selector })
      .filter((p) => !p.metadata.deletionTimestamp);
    for (const p of pods) await this.kubelet(p);
    const isNew = (p: EmulatedObject) => p.metadata.labels?.['pod-template-hash'] === hash;
    const isReady = (p: EmulatedObject) => this.runs.get(`${namespace}/${p.metadata.name}`)?.ready === true;
    let current = this.kube
      .list({ apiVersion: 'v1', kind: 'Pod', namespace, labelSelector: selector })
      .filter((p) => !p.metadata.deletionTimestamp);
    let failure: string | undefined;
    // Scale up the new pods within the surge.
    let newCount = current.filter(isNew).length;
    while (newCount < replicas && current.length < replicas + maxSurge) {
      const podName = `${name}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`;
      const template = (spec.template ?? {}) as Obj;
      const serviceAccount = template.spec?.serviceAccountName ?? 'default';
      if (!this.kube.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace, name: serviceAccount })) {
        failure = `pods "${podName}" is forbidden: error looking up service account ${namespace}/${serviceAccount}: serviceaccount "${serviceAccount}" not found`;
        break;
      }
      try {
        this.kube.apply({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { namespace, name: podName, labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash } },
          spec: template.spec,
          status: { phase: 'Pending' },
        });
      } catch (e) {
        failure = (e as Error).message;
        break;
      }
      this.note(`SuccessfulCreate ${namespace}/${name}: Created pod: ${podName}`);
      current = this.kube
        .list({ apiVersion: 'v1', kind: 'Pod', namespace, labelSelector: selector })
        .filter((p) => !p.metadata.deletionTimestamp);
      newCount++;
    }
    if (failure) this.note(`FailedCreate ${namespace}/${name}: ${failure}`);
    // Scale down old pods: unavailable ones first, available ones while enough stay available.
    const minAvailable = replicas - maxUnavailable;
    for (const old of current.filter((p) => !isNew(p)).sort((a, b) => Number(isReady(a)) - Number(isReady(b)))) {
      const available = current.filter(isReady).length;
      if (isReady(old) && available - 1 < minAvailable) break;
      await this.removePod(old);
      current = current.filter((p) => p !== old);
    }
    const extra = current.filter(isNew).length - replicas;
    for (const p of current
      .filter(isNew)
      .sort((a, b) => Number(isReady(a)) - Number(isReady(b)))
      .slice(0, Math.max(extra, 0))) {
      await this.removePod(p);
      current = current.filter((q) => q !== p);
    }
    const updated = current.filter(isNew).length;
    const ready = current.filter(isReady).length;
    const complete =
      updated === replicas && current.length === updated && current.filter((p) => isNew(p) && isReady(p)).length === replicas;
    const key = `${hash}:${current.length}:${updated}:${ready}`;
    const id = `${namespace}/${name}`;
    const seen = this.progress.get(id);
    if (!seen || seen.key !== key) this.progress.set(id, { key, at: Date.now() });
    const deadline = (spec.progressDeadlineSeconds ?? 600) * 1000;
    const stalled = !complete && Date.now() - (this.progress.get(id)?.at ?? Date.now()) > deadline;
    const conditions: Obj[] = [
      {
        type: 'Available',
        status: ready >= minAvailable ? 'True' : 'False',
        reason: ready >= minAvailable ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      },
      complete
        ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }
        : stalled
          ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }
          : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
      ...(failure ? [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure }] : []),
    ];
    const status = {
      observedGeneration: d.metadata.generation,
      replicas: current.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: Math.max(replicas - ready, 0),
      conditions,
    };
    if (canonical(status) !== canonical(d.status))
      this.kube.writeStatus({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name }, status, {
        fieldManager: 'kube-controller-manager',
      });
  }

  private async removePod(p: EmulatedObject): Promise<void> {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    const run = this.runs.get(key);
    this.runs.delete(key);
    await run?.container?.stop();
    this.kube.delete(
      { apiVersion: 'v1', kind: 'Pod', namespace: p.metadata.namespace, name: p.metadata.name as string },
      { gracePeriodSeconds: 0 },
    );
    this.note(`Killing ${key}: Stopping container`);
  }

  /** The kubelet's work on one pod: mount, start, probe, report. */
  private async kubelet(pod: EmulatedObject): Promise<void> {
    const namespace = pod.metadata.namespace as string;
    const key = `${namespace}/${pod.metadata.name}`;
    const run = this.runs.get(key) ?? { phase: 'waiting', ready: false, restarts: 0 };
    this.runs.set(key, run);
    const spec = (pod.spec ?? {}) as Obj;
    if (run.phase === 'running' && run.container?.exited()) {
      run.phase = 'waiting';
      run.ready = false;
      run.restarts++;
      run.container = undefined;
      this.note(`BackOff ${key}: Back-off restarting failed container`);
    }
    if (run.phase === 'waiting') {
      const missing = this.missingVolume(namespace, spec);
      if (missing) {
        run.waiting = { reason: 'ContainerCreating' };
        this.note(`FailedMount ${key}: ${missing}`);
      } else {
        run.phase = 'starting';
        run.waiting = undefined;
        try {
          run.container = await this.options.runner(pod);
          run.phase = 'running';
          this.note(`Started ${key}: Started container ${spec.containers?.[0]?.name}`);
        } catch (e) {
          run.phase = 'waiting';
          run.waiting = { reason: 'CreateContainerError', message: (e as Error).message };
          this.note(`Failed ${key}: ${(e as Error).message}`);
        }
      }
    }
    if (run.phase === 'running' && run.container) run.ready = await this.probe(spec.containers?.[0] ?? {}, run.container);
    const container = spec.containers?.[0] ?? {};
    const status = {
      phase: run.phase === 'running' ? 'Running' : 'Pending',
      conditions: [
        { type: 'ContainersReady', status: run.ready ? 'True' : 'False' },
        { type: 'Ready', status: run.ready ? 'True' : 'False' },
      ],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          ready: run.ready,
          restartCount: run.restarts,
          started: run.phase === 'running',
          state: run.phase === 'running' ? { running: {} } : { waiting: run.waiting ?? { reason: 'ContainerCreating' } },
        },
      ],
    };
    if (canonical(status) !== canonical(pod.status))
      this.kube.writeStatus({ apiVersion: 'v1', kind: 'Pod', namespace, name: pod.metadata.name as string } as ObjectRef, status, {
        fieldManager: 'kubelet',
      });
  }

  /** The kubelet's mount error for the first ConfigMap or Secret volume that cannot be set up. */
  private missingVolume(namespace: string, spec: Obj): string | undefined {
    for (const v of (spec.volumes ?? []) as Obj[]) {
      if (
        v.configMap &&
        v.configMap.optional !== true &&
        !this.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: v.configMap.name })
      ) {
        return `MountVolume.SetUp failed for volume "${v.name}" : configmap "${v.configMap.name}" not found`;
      }
      if (
        v.secret &&
        v.secret.optional !== true &&
        !this.kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: v.secret.secretName })
      ) {
        return `MountVolume.SetUp failed for volume "${v.name}" : secret "${v.secret.secretName}" not found`;
      }
    }
    return undefined;
  }

  /** One readiness probe: HTTP GET, 200–399 succeeds (probe/http/http.go); no probe means ready. */
  private async probe(container: Obj, running: RunningContainer): Promise<boolean> {
    const probe = container.readinessProbe as Obj | undefined;
    if (!probe) return true;
    if (!probe.httpGet) return false;
    const port =
      typeof probe.httpGet.port === 'number'
        ? probe.httpGet.port
        : ((container.ports ?? []) as Obj[]).find((p) => p.name === probe.httpGet.port)?.containerPort;
    const local = port === undefined ? undefined : running.ports[port];
    if (local === undefined) return false;
    return new Promise((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port: local, path: probe.httpGet.path ?? '/', timeout: (probe.timeoutSeconds ?? 1) * 1000 },
        (res) => {
          res.resume();
          resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }
}
