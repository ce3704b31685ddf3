/**
 * Pod Security admission as kube-apiserver runs it, after kubernetes/pod-security-admission
 * (v0.33): admission/admission.go, api/helpers.go and the policy/check_*.go files.
 *
 * - The namespace labels `pod-security.kubernetes.io/{enforce,warn}` choose the levels
 *   (`PolicyToEvaluate`); warn defaults to enforce when only enforce is set and stricter.
 * - Pods are refused (403 Forbidden, `violates PodSecurity "restricted:latest": ...`) when
 *   the enforce level fails (`ValidatePod` → `EvaluatePod(enforce=true)`); an update is
 *   checked only when it changes the containers (`isSignificantPodUpdate`: counts, images, a
 *   new ephemeral container), and `/status` writes never are.
 * - Workloads with a pod template (Deployments) are never refused, only warned
 *   (`ValidatePodController` → `EvaluatePod(enforce=false)`), with `would violate PodSecurity`.
 * - Checks run baseline first, then restricted, each group sorted by ID, restricted ones
 *   replacing the baseline checks they override (policy/registry.go); reasons and details
 *   are upstream's. Implemented: hostNamespaces, hostPorts, privileged (baseline);
 *   allowPrivilegeEscalation, capabilities_restricted, restrictedVolumes (which replaces
 *   hostPathVolumes), runAsNonRoot, runAsUser, seccompProfile_restricted (restricted). The
 *   baseline checks appArmorProfile, capabilities_baseline, procMount, seLinuxOptions,
 *   seccompProfile_baseline, sysctls and windowsHostProcess are not modelled, nor exemptions,
 *   version pinning or user-namespace relaxation.
 */

type Obj = Record<string, any>;

export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

export interface NamespacePolicy {
  readonly enforce: PodSecurityLevel;
  readonly warn: PodSecurityLevel;
  readonly enforceVersion: string;
  readonly warnVersion: string;
}

const LEVELS: readonly PodSecurityLevel[] = ['privileged', 'baseline', 'restricted'];

/** The policy from namespace labels; unknown levels fail closed for enforce (restricted) and open for warn. */
export function namespacePolicy(labels: Readonly<Record<string, string>> | undefined): NamespacePolicy {
  const l = labels ?? {};
  const level = (v: string | undefined, fallback: PodSecurityLevel, invalid: PodSecurityLevel): PodSecurityLevel =>
    v === undefined ? fallback : (LEVELS as readonly string[]).includes(v) ? (v as PodSecurityLevel) : invalid;
  const enforce = level(l['pod-security.kubernetes.io/enforce'], 'privileged', 'restricted');
  let warn = level(l['pod-security.kubernetes.io/warn'], 'privileged', 'privileged');
  const enforceVersion = l['pod-security.kubernetes.io/enforce-version'] ?? 'latest';
  let warnVersion = l['pod-security.kubernetes.io/warn-version'] ?? 'latest';
  if (
    l['pod-security.kubernetes.io/warn'] === undefined &&
    l['pod-security.kubernetes.io/enforce'] !== undefined &&
    LEVELS.indexOf(enforce) > LEVELS.indexOf(warn)
  ) {
    warn = enforce;
    if (l['pod-security.kubernetes.io/warn-version'] === undefined) warnVersion = enforceVersion;
  }
  return { enforce, warn, enforceVersion, warnVersion };
}

interface CheckResult {
  readonly reason: string;
  readonly detail: string;
}

const quote = (items: readonly string[]): string => `"${items.join('", "')}"`;
const plural = (one: string, many: string, n: number): string => (n === 1 ? one : many);

function containers(spec: Obj): Obj[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].filter(
    (c) => c && typeof c === 'object',
  );
}

const windows = (spec: Obj): boolean => spec.os?.name === 'windows';

function hostNamespaces(spec: Obj): CheckResult | undefined {
  const found = [spec.hostNetwork && 'hostNetwork=true', spec.hostPID && 'hostPID=true', spec.hostIPC && 'hostIPC=true'].filter(
    (x): x is string => !!x,
  );
  return found.length ? { reason: 'host namespaces', detail: found.join(', ') } : undefined;
}

function hostPorts(spec: Obj): CheckResult | undefined {
  const bad: string[] = [];
  const ports = new Set<string>();
  for (const c of containers(spec)) {
    let valid = true;
    for (const p of c.ports ?? []) {
      if (p?.hostPort) {
        valid = false;
        ports.add(String(p.hostPort));
      }
    }
    if (!valid) bad.push(c.name);
  }
  if (!bad.length) return undefined;
  const list = [...ports].sort();
  return {
    reason: 'hostPort',
    detail: `${plural('container', 'containers', bad.length)} ${quote(bad)} ${plural('uses', 'use', bad.length)} ${plural('hostPort', 'hostPorts', list.length)} ${list.join(', ')}`,
  };
}

function privileged(spec: Obj): CheckResult | undefined {
  const bad = containers(spec)
    .filter((c) => c.securityContext?.privileged === true)
    .map((c) => c.name);
  return bad.length
    ? {
        reason: 'privileged',
        detail: `${plural('container', 'containers', bad.length)} ${quote(bad)} must not set securityContext.privileged=true`,
      }
    : undefined;
}

function allowPrivilegeEscalation(spec: Obj): CheckResult | undefined {
  if (windows(spec)) return undefined;
  const bad = containers(spec)
    .filter((c) => c.securityContext?.allowPrivilegeEscalation !== false)
    .map((c) => c.name);
  return bad.length
    ? {
        reason: 'allowPrivilegeEscalation != false',
        detail: `${plural('container', 'containers', bad.length)} ${quote(bad)} must set securityContext.allowPrivilegeEscalation=false`,
      }
    : undefined;
}

function capabilitiesRestricted(spec: Obj): CheckResult | undefined {
  if (windows(spec)) return undefined;
  const missingDrop: string[] = [];
  const adding: string[] = [];
  const forbidden = new Set<string>();
  for (const c of containers(spec)) {
    const caps = c.securityContext?.capabilities;
    if (!caps) {
      missingDrop.push(c.name);
      continue;
    }
    if (!(caps.drop ?? []).includes('ALL')) missingDrop.push(c.name);
    const extra = (caps.add ?? []).filter((x: string) => x !== 'NET_BIND_SERVICE');
    for (const x of extra) forbidden.add(x);
    if (extra.length) adding.push(c.name);
  }
  const details: string[] = [];
  if (missingDrop.length)
    details.push(
      `${plural('container', 'containers', missingDrop.length)} ${quote(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`,
    );
  if (adding.length)
    details.push(
      `${plural('container', 'containers', adding.length)} ${quote(adding)} must not include ${quote([...forbidden].sort())} in securityContext.capabilities.add`,
    );
  return details.length ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined;
}

const ALLOWED_VOLUME_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const KNOWN_VOLUME_SOURCES = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
];

function restrictedVolumes(spec: Obj): CheckResult | undefined {
  const bad: string[] = [];
  const types = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (!v || typeof v !== 'object') continue;
    if (Object.keys(v).some((k) => ALLOWED_VOLUME_SOURCES.has(k) && v[k] !== null && v[k] !== undefined)) continue;
    bad.push(v.name);
    types.add(KNOWN_VOLUME_SOURCES.find((k) => v[k] !== null && v[k] !== undefined) ?? 'unknown');
  }
  if (!bad.length) return undefined;
  const list = [...types].sort();
  return {
    reason: 'restricted volume types',
    detail: `${plural('volume', 'volumes', bad.length)} ${quote(bad)} ${plural('uses', 'use', bad.length)} ${plural('restricted volume type', 'restricted volume types', list.length)} ${quote(list)}`,
  };
}

function runAsNonRoot(spec: Obj): CheckResult | undefined {
  const badSetters: string[] = [];
  let podNonRoot = false;
  const pod = spec.securityContext?.runAsNonRoot;
  if (pod === false) badSetters.push('pod');
  else if (pod === true) podNonRoot = true;
  const explicit: string[] = [];
  const implicit: string[] = [];
  for (const c of containers(spec)) {
    const v = c.securityContext?.runAsNonRoot;
    if (v === false) explicit.push(c.name);
    else if (v === undefined || v === null) {
      if (!podNonRoot) implicit.push(c.name);
    }
  }
  if (explicit.length) badSetters.push(`${plural('container', 'containers', explicit.length)} ${quote(explicit)}`);
  if (badSetters.length)
    return { reason: 'runAsNonRoot != true', detail: `${badSetters.join(' and ')} must not set securityContext.runAsNonRoot=false` };
  if (implicit.length)
    return {
      reason: 'runAsNonRoot != true',
      detail: `pod or ${plural('container', 'containers', implicit.length)} ${quote(implicit)} must set securityContext.runAsNonRoot=true`,
    };
  return undefined;
}

function runAsUser(spec: Obj): CheckResult | undefined {
  const badSetters: string[] = [];
  if (spec.securityContext?.runAsUser === 0) badSetters.push('pod');
  const explicit = containers(spec)
    .filter((c) => c.securityContext?.runAsUser === 0)
    .map((c) => c.name);
  if (explicit.length) badSetters.push(`${plural('container', 'containers', explicit.length)} ${quote(explicit)}`);
  return badSetters.length ? { reason: 'runAsUser=0', detail: `${badSetters.join(' and ')} must not set runAsUser=0` } : undefined;
}

function seccompRestricted(spec: Obj): CheckResult | undefined {
  if (windows(spec)) return undefined;
  const valid = (t: unknown) => t === 'RuntimeDefault' || t === 'Localhost';
  const badSetters: string[] = [];
  const badValues = new Set<string>();
  let podSet = false;
  const pod = spec.securityContext?.seccompProfile;
  if (pod) {
    if (!valid(pod.type)) {
      badSetters.push('pod');
      badValues.add(String(pod.type ?? ''));
    } else podSet = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  for (const c of containers(spec)) {
    const p = c.securityContext?.seccompProfile;
    if (p) {
      if (!valid(p.type)) {
        explicit.push(c.name);
        badValues.add(String(p.type ?? ''));
      }
    } else if (!podSet) implicit.push(c.name);
  }
  if (explicit.length) badSetters.push(`${plural('container', 'containers', explicit.length)} ${quote(explicit)}`);
  if (badSetters.length)
    return {
      reason: 'seccompProfile',
      detail: `${badSetters.join(' and ')} must not set securityContext.seccompProfile.type to ${quote([...badValues].sort())}`,
    };
  if (implicit.length) {
    return {
      reason: 'seccompProfile',
      detail: `pod or ${plural('container', 'containers', implicit.length)} ${quote(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
    };
  }
  return undefined;
}

/** hostPathVolumes is a baseline check replaced by restrictedVolumes at the restricted level. */
function hostPathVolumes(spec: Obj): CheckResult | undefined {
  const bad = (spec.volumes ?? []).filter((v: Obj) => v?.hostPath !== null && v?.hostPath !== undefined).map((v: Obj) => v.name);
  return bad.length ? { reason: 'hostPath volumes', detail: `${plural('volume', 'volumes', bad.length)} ${quote(bad)}` } : undefined;
}

// Baseline IDs sorted, then restricted IDs sorted (registry.go `orderedIDs`).
const BASELINE: readonly [string, (s: Obj) => CheckResult | undefined][] = [
  ['hostNamespaces', hostNamespaces],
  ['hostPathVolumes', hostPathVolumes],
  ['hostPorts', hostPorts],
  ['privileged', privileged],
];
const RESTRICTED: readonly [string, (s: Obj) => CheckResult | undefined][] = [
  ['allowPrivilegeEscalation', allowPrivilegeEscalation],
  ['capabilities_restricted', capabilitiesRestricted],
  ['restrictedVolumes', restrictedVolumes],
  ['runAsNonRoot', runAsNonRoot],
  ['runAsUser', runAsUser],
  ['seccompProfile_restricted', seccompRestricted],
];
const OVERRIDDEN_BY_RESTRICTED = new Set(['hostPathVolumes']);

/** `ForbiddenDetail` of the failed checks at `level`, or undefined when the pod spec passes. */
export function evaluatePodSpec(level: PodSecurityLevel, spec: Obj): string | undefined {
  if (level === 'privileged') return undefined;
  const checks = level === 'baseline' ? BASELINE : [...BASELINE.filter(([id]) => !OVERRIDDEN_BY_RESTRICTED.has(id)), ...RESTRICTED];
  const failed = checks.map(([, check]) => check(spec)).filter((r): r is CheckResult => r !== undefined);
  if (!failed.length) return undefined;
  return failed.map((r) => (r.detail ? `${r.reason} (${r.detail})` : r.reason)).join(', ');
}

/** `isSignificantPodUpdate`: only container changes (count, image, a new ephemeral container) are checked again. */
export function significantPodUpdate(spec: Obj, oldSpec: Obj): boolean {
  for (const f of ['containers', 'initContainers']) {
    const a: Obj[] = spec[f] ?? [];
    const b: Obj[] = oldSpec[f] ?? [];
    if (a.length !== b.length) return true;
    if (a.some((c, i) => c?.image !== b[i]?.image)) return true;
  }
  const old: Obj[] = oldSpec.ephemeralContainers ?? [];
  for (const c of spec.ephemeralContainers ?? []) {
    const o = old.find((x) => x?.name === c?.name);
    if (!o || o.image !== c?.image) return true;
  }
  return false;
}
