/**
 * The Kubernetes Pod Security Standards "restricted" profile (baseline controls included),
 * as a checker over a pod spec in Kubernetes shape. Use it to test your own workloads; the
 * EgressController's tests use it on the Deployment this library renders.
 *
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */

// Pod specs are read as untyped JSON; every field is checked before use.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** Violations of the restricted profile; empty when the pod spec passes. */
export function restrictedProfileViolations(podSpec: Obj): string[] {
  const v: string[] = [];
  const pod = podSpec.securityContext ?? {};
  const containers: Obj[] = [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? []), ...(podSpec.ephemeralContainers ?? [])];

  // Baseline controls.
  if (podSpec.hostNetwork || podSpec.hostPID || podSpec.hostIPC)
    v.push('host namespaces: hostNetwork, hostPID and hostIPC must be unset or false');
  if (pod.windowsOptions?.hostProcess) v.push('hostProcess must not be true');
  for (const vol of podSpec.volumes ?? []) {
    const type = Object.keys(vol).find((k) => k !== 'name');
    if (type === 'hostPath') v.push(`volume ${vol.name}: hostPath volumes are forbidden`);
    else if (type && !RESTRICTED_VOLUME_TYPES.has(type))
      v.push(`volume ${vol.name}: type ${type} is not allowed (allowed: ${[...RESTRICTED_VOLUME_TYPES].join(', ')})`);
  }
  for (const sysctl of pod.sysctls ?? []) if (!SAFE_SYSCTLS.has(sysctl.name)) v.push(`sysctl ${sysctl.name} is not in the safe set`);
  if (pod.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(pod.appArmorProfile.type))
    v.push('pod appArmorProfile must be RuntimeDefault or Localhost');
  checkSeLinux(pod.seLinuxOptions, 'pod', v);

  // Restricted controls at pod level.
  const podSeccomp = pod.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp))
    v.push(`pod seccompProfile ${podSeccomp} must be RuntimeDefault or Localhost`);
  if (pod.runAsUser === 0) v.push('pod runAsUser must not be 0');

  for (const c of containers) {
    const sc: Obj = c.securityContext ?? {};
    const name = `container ${c.name}`;
    if (sc.privileged) v.push(`${name}: privileged must be false`);
    if (sc.windowsOptions?.hostProcess) v.push(`${name}: hostProcess must not be true`);
    for (const p of c.ports ?? []) if (p.hostPort) v.push(`${name}: hostPort ${p.hostPort} is forbidden`);
    if (sc.procMount && sc.procMount !== 'Default') v.push(`${name}: procMount must be Default`);
    if (sc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(sc.appArmorProfile.type))
      v.push(`${name}: appArmorProfile must be RuntimeDefault or Localhost`);
    checkSeLinux(sc.seLinuxOptions, name, v);
    for (const cap of sc.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITIES.has(cap)) v.push(`${name}: capability ${cap} may not be added`);
      else if (cap !== 'NET_BIND_SERVICE') v.push(`${name}: only NET_BIND_SERVICE may be added (got ${cap})`);
    }
    if (sc.allowPrivilegeEscalation !== false) v.push(`${name}: allowPrivilegeEscalation must be false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${name}: capabilities must drop ALL`);
    const runAsNonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    if (runAsNonRoot !== true) v.push(`${name}: runAsNonRoot must be true (on the pod or the container)`);
    if (sc.runAsUser === 0) v.push(`${name}: runAsUser must not be 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (!['RuntimeDefault', 'Localhost'].includes(seccomp))
      v.push(`${name}: seccompProfile must be RuntimeDefault or Localhost (on the pod or the container)`);
  }
  return v;
}

function checkSeLinux(options: Obj | undefined, where: string, v: string[]): void {
  if (!options) return;
  if (options.type && !['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].includes(options.type))
    v.push(`${where}: seLinuxOptions.type ${options.type} is not allowed`);
  if (options.user || options.role) v.push(`${where}: seLinuxOptions user and role must be unset`);
}
