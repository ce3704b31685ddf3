/**
 * Authentication and RBAC of the Kubernetes API emulator, against the behaviour of
 * kube-apiserver's RBAC authorizer (rule matching, binding resolution, Forbidden messages).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubeClient } from '../../../lib/clients/kube/client';
import { loadKubeconfig } from '../../../lib/clients/kube/config';
import { LEASES, NAMESPACES, PODS, ResourceType, SERVICES } from '../../../lib/clients/kube/resources';
import { Harness, errorOf, pod, rawRequest, startHarness } from './helpers';

const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const rbac = 'rbac.authorization.k8s.io/v1';

describe('KubeApiEmulator RBAC', () => {
  let h: Harness;
  let sa: KubeClient;

  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default', 'ops', 'team'] });
    const k = h.emulator;
    k.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { namespace: 'ops', name: 'ctl' } });
    k.apply({
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: { name: 'ctl' },
      rules: [{ apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] }],
    });
    k.apply({
      apiVersion: rbac,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'ctl' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ctl' },
      subjects: [{ kind: 'ServiceAccount', name: 'ctl', namespace: 'ops' }],
    });
    k.apply({
      apiVersion: rbac,
      kind: 'Role',
      metadata: { namespace: 'ops', name: 'leader' },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['ctl-lease'], verbs: ['get', 'update'] },
      ],
    });
    k.apply({
      apiVersion: rbac,
      kind: 'RoleBinding',
      metadata: { namespace: 'ops', name: 'leader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader' },
      // No namespace on the subject: the binding's namespace is meant.
      subjects: [{ kind: 'ServiceAccount', name: 'ctl' }],
    });
    const file = k.writeKubeconfig(path.join(h.dir, 'sa'), { token: k.serviceAccountToken('ops', 'ctl') });
    sa = new KubeClient(loadKubeconfig(file), { requestTimeoutMs: 10_000 });
  });
  afterEach(async () => {
    await sa.close();
    await h.close();
  });

  test('a service account gets what its ClusterRoleBinding grants, everywhere', async () => {
    h.emulator.apply(pod('team', 'p1'));
    expect((await sa.list(PODS)).items.map((p) => p.metadata.name)).toEqual(['p1']);
    expect((await sa.get(NAMESPACES, 'team')).metadata.name).toBe('team');
  });

  test('anything else is 403 Forbidden with the upstream message and details', async () => {
    const err = await errorOf(sa.list(SECRETS, { namespace: 'team' }));
    expect(err.statusCode).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.status?.message).toBe(
      'secrets is forbidden: User "system:serviceaccount:ops:ctl" cannot list resource "secrets" in API group "" in the namespace "team"',
    );
    expect(err.status?.details).toEqual({ kind: 'secrets' });

    const named = await errorOf(sa.delete(PODS, 'p1', 'team'));
    expect(named.status?.message).toBe(
      'pods "p1" is forbidden: User "system:serviceaccount:ops:ctl" cannot delete resource "pods" in API group "" in the namespace "team"',
    );
    const cluster = await errorOf(sa.list(SERVICES));
    expect(cluster.status?.message).toBe(
      'services is forbidden: User "system:serviceaccount:ops:ctl" cannot list resource "services" in API group "" at the cluster scope',
    );
    expect(h.emulator.counters().forbidden).toBe(3);
  });

  test('a RoleBinding grants only in its namespace, and resourceNames limit get and update to one object', async () => {
    const created = await sa.create(LEASES, { metadata: { namespace: 'ops', name: 'ctl-lease' }, spec: { holderIdentity: 'a' } });
    await sa.replace(LEASES, { ...created, spec: { holderIdentity: 'b' } });
    const other = await errorOf(sa.get(LEASES, 'another', 'ops'));
    expect(other.status?.message).toBe(
      'leases.coordination.k8s.io "another" is forbidden: User "system:serviceaccount:ops:ctl" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "ops"',
    );
    expect((await errorOf(sa.create(LEASES, { metadata: { namespace: 'team', name: 'ctl-lease' } }))).statusCode).toBe(403);
    // Listing is a different verb from get, even for the one name.
    expect((await errorOf(sa.list(LEASES, { namespace: 'ops' }))).statusCode).toBe(403);
  });

  test('a binding to a role that does not exist shows up in the denial reason', async () => {
    h.emulator.apply({
      apiVersion: rbac,
      kind: 'RoleBinding',
      metadata: { namespace: 'team', name: 'dangling' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'not-there' },
      subjects: [{ kind: 'ServiceAccount', name: 'ctl', namespace: 'ops' }],
    });
    const err = await errorOf(sa.list(CONFIGMAPS, { namespace: 'team' }));
    expect(err.status?.message).toBe(
      'configmaps is forbidden: User "system:serviceaccount:ops:ctl" cannot list resource "configmaps" in API group "" in the namespace "team": RBAC: clusterrole.rbac.authorization.k8s.io "not-there" not found',
    );
  });

  test('subresources need their own rule; */status matches any resource', async () => {
    h.emulator.apply(pod('team', 'p1'));
    const status = await errorOf(sa.mergePatchStatus(PODS, 'p1', { status: { phase: 'Running' } }, 'team'));
    expect(status.status?.message).toContain('cannot patch resource "pods/status" in API group ""');
    h.emulator.apply({
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: { name: 'ctl' },
      rules: [{ apiGroups: ['*'], resources: ['*/status'], verbs: ['patch'] }],
    });
    await sa.mergePatchStatus(PODS, 'p1', { status: { phase: 'Running' } }, 'team');
    // The main resource is a different thing now.
    expect((await errorOf(sa.get(PODS, 'p1', 'team'))).statusCode).toBe(403);
  });

  test('discovery is open to every authenticated identity; a deleted service account is unauthenticated', async () => {
    const token = h.emulator.serviceAccountToken('ops', 'ctl');
    expect((await rawRequest(h, 'GET', '/apis', { token })).status).toBe(200);
    expect((await rawRequest(h, 'GET', '/api/v1', { token })).status).toBe(200);
    // A path nobody granted is refused like a resource, in the non-resource form.
    const other = await rawRequest(h, 'GET', '/metrics', { token });
    expect(other.status).toBe(403);
    expect(other.json.message).toBe('forbidden: User "system:serviceaccount:ops:ctl" cannot get path "/metrics"');
    h.emulator.delete({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'ops', name: 'ctl' });
    const err = await errorOf(sa.list(PODS));
    expect(err.statusCode).toBe(401);
  });

  test('server-side apply of an object that does not exist needs create as well as patch', async () => {
    h.emulator.apply({
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: { name: 'ctl' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['patch'] }],
    });
    const token = h.emulator.serviceAccountToken('ops', 'ctl');
    const manifest = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' }, data: { a: '1' } };
    const refused = await rawRequest(h, 'PATCH', '/api/v1/namespaces/team/configmaps/c?fieldManager=Terraform', {
      token,
      body: manifest,
      contentType: 'application/apply-patch+yaml',
    });
    expect(refused.status).toBe(403);
    expect(refused.json.message).toBe(
      'configmaps "c" is forbidden: User "system:serviceaccount:ops:ctl" cannot create resource "configmaps" in API group "" in the namespace "team"',
    );
    h.emulator.apply(manifest);
    const patched = await rawRequest(h, 'PATCH', '/api/v1/namespaces/team/configmaps/c?fieldManager=Terraform&force=true', {
      token,
      body: manifest,
      contentType: 'application/apply-patch+yaml',
    });
    expect(patched.status).toBe(200);
  });

  test('a user token is authorized through its groups', async () => {
    const token = h.emulator.userToken('alice', ['auditors']);
    h.emulator.apply({
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: { name: 'read-cm' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
    });
    h.emulator.apply({
      apiVersion: rbac,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'auditors' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'read-cm' },
      subjects: [{ kind: 'Group', name: 'auditors' }],
    });
    const file = h.emulator.writeKubeconfig(path.join(h.dir, 'alice'), { token });
    const alice = new KubeClient(loadKubeconfig(file));
    try {
      expect((await alice.list(CONFIGMAPS, { namespace: 'team' })).items).toEqual([]);
      expect((await errorOf(alice.list(SECRETS, { namespace: 'team' }))).status?.message).toContain(
        'User "alice" cannot list resource "secrets"',
      );
    } finally {
      await alice.close();
    }
    expect(fs.existsSync(file)).toBe(true);
  });
});
