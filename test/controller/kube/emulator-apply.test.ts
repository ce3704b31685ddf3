/**
 * Server-side apply in the Kubernetes API emulator, as the kubernetes Terraform provider's
 * `kubernetes_manifest` uses it (PATCH application/apply-patch+yaml, field manager
 * "Terraform", optional force), and field ownership recorded by ordinary writes.
 */
import { ResourceType } from '../../../lib/clients/kube/resources';
import { KubeEmulatorError } from '../../emulators/kube/emulator';
import { Harness, rawRequest, startHarness } from './helpers';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

const cm = (data: Record<string, string>, labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'default', ...(labels ? { labels } : {}) },
  data,
});

describe('server-side apply', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default'] });
  });
  afterEach(() => h.close());

  const apply = (body: object | string, query = 'fieldManager=Terraform') =>
    rawRequest(h, 'PATCH', `/api/v1/namespaces/default/configmaps/settings?${query}`, {
      body,
      contentType: 'application/apply-patch+yaml',
    });

  test('apply creates (201), re-applying the same manifest changes nothing, dropping a field removes it', async () => {
    const created = await apply(cm({ a: '1', b: '2' }));
    expect(created.status).toBe(201);
    expect(created.json.metadata.managedFields).toEqual([
      {
        manager: 'Terraform',
        operation: 'Apply',
        apiVersion: 'v1',
        time: expect.any(String),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { 'f:a': {}, 'f:b': {} } },
      },
    ]);
    const again = await apply(cm({ a: '1', b: '2' }));
    expect(again.status).toBe(200);
    expect(again.json.metadata.resourceVersion).toBe(created.json.metadata.resourceVersion);
    const dropped = await apply(cm({ a: '1' }));
    expect(dropped.json.data).toEqual({ a: '1' });
    expect(dropped.json.metadata.managedFields[0].fieldsV1).toEqual({ 'f:data': { 'f:a': {} } });
  });

  test('YAML bodies are accepted, as kubectl sends them', async () => {
    const res = await apply('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  a: "1"\n');
    expect(res.status).toBe(201);
    expect(res.json.data).toEqual({ a: '1' });
  });

  test('a field changed by another manager conflicts (409) until forced; force takes it over', async () => {
    await apply(cm({ a: '1', b: '2' }));
    // `kubectl edit` (an Update by manager kubectl-edit) changes a field Terraform applied.
    const edit = await rawRequest(h, 'PATCH', '/api/v1/namespaces/default/configmaps/settings?fieldManager=kubectl-edit', {
      body: { data: { a: 'edited' } },
      contentType: 'application/merge-patch+json',
    });
    expect(edit.status).toBe(200);
    expect(edit.json.metadata.managedFields.map((m: { manager: string; operation: string }) => `${m.manager}/${m.operation}`)).toEqual([
      'Terraform/Apply',
      'kubectl-edit/Update',
    ]);

    const conflict = await apply(cm({ a: '1', b: '2' }));
    expect(conflict.status).toBe(409);
    expect(conflict.json).toMatchObject({
      reason: 'Conflict',
      code: 409,
      message: 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-edit" using v1', field: '.data.a' }] },
    });
    const forced = await apply(cm({ a: '1', b: '2' }), 'fieldManager=Terraform&force=true');
    expect(forced.status).toBe(200);
    expect(forced.json.data).toEqual({ a: '1', b: '2' });
    // kubectl-edit lost its only field and with it its entry.
    expect(forced.json.metadata.managedFields.map((m: { manager: string }) => m.manager)).toEqual(['Terraform']);
  });

  test('applying the value another manager already set shares the field instead of conflicting', async () => {
    await apply(cm({ a: '1' }));
    const other = await rawRequest(h, 'PATCH', '/api/v1/namespaces/default/configmaps/settings?fieldManager=helm', {
      body: { ...cm({ a: '1', c: '3' }) },
      contentType: 'application/apply-patch+yaml',
    });
    expect(other.status).toBe(200);
    // Terraform no longer applying `a` leaves it to helm.
    const res = await apply(cm({ z: '9' }));
    expect(res.status).toBe(200);
    expect(res.json.data).toEqual({ a: '1', c: '3', z: '9' });
  });

  test('two appliers conflict too, listing every conflicting field', async () => {
    await apply(cm({ a: '1', b: '2' }, { team: 'x' }));
    const other = await rawRequest(h, 'PATCH', '/api/v1/namespaces/default/configmaps/settings?fieldManager=helm', {
      body: cm({ a: 'A', b: 'B' }, { team: 'y' }),
      contentType: 'application/apply-patch+yaml',
    });
    expect(other.status).toBe(409);
    expect(other.json.message).toBe(
      'Apply failed with 3 conflicts: conflicts with "Terraform":\n- .data.a\n- .data.b\n- .metadata.labels.team',
    );
  });

  test('apply needs a field manager, the resource kind and no managedFields', async () => {
    const noManager = await apply(cm({ a: '1' }), '');
    expect(noManager.status).toBe(422);
    expect(noManager.json.message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
    const wrongKind = await apply({ ...cm({ a: '1' }), kind: 'Secret' });
    expect(wrongKind.status).toBe(400);
    const withFields = await apply({ ...cm({ a: '1' }), metadata: { name: 'settings', managedFields: [] } });
    expect(withFields.status).toBe(400);
    expect(withFields.json.message).toBe('metadata.managedFields must be nil');
    const forceOnMerge = await rawRequest(h, 'PATCH', '/api/v1/namespaces/default/configmaps/settings?force=true', {
      body: {},
      contentType: 'application/merge-patch+json',
    });
    expect(forceOnMerge.status).toBe(422);
  });

  test('a plain create of an existing object is 409 AlreadyExists', async () => {
    await apply(cm({ a: '1' }));
    const res = await rawRequest(h, 'POST', '/api/v1/namespaces/default/configmaps', { body: cm({ a: '2' }) });
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({
      reason: 'AlreadyExists',
      message: 'configmaps "settings" already exists',
      details: { name: 'settings', kind: 'configmaps' },
    });
  });

  test('ordinary writes record Update owners by field manager or user agent', async () => {
    const res = await rawRequest(h, 'POST', '/api/v1/namespaces/default/configmaps', { body: cm({ a: '1' }) });
    // Node's https client sends no user agent: the manager is "unknown" (handlers/rest.go).
    expect(res.json.metadata.managedFields).toEqual([
      {
        manager: 'unknown',
        operation: 'Update',
        apiVersion: 'v1',
        time: expect.any(String),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { '.': {}, 'f:a': {} } },
      },
    ]);
    const seeded = h.emulator.apply(cm({ a: '1', b: '2' }));
    // Sorted by time, then name: both in the same second or the older one first.
    expect(seeded.metadata.managedFields?.map((m: any) => m.manager).sort()).toEqual(['kube-emulator', 'unknown']);
    expect(seeded.metadata.managedFields?.find((m: any) => m.manager === 'kube-emulator')).toMatchObject({
      operation: 'Update',
      fieldsV1: { 'f:data': { 'f:b': {} } },
    });
  });

  test('associative lists merge by key: containers by name, ports by port and protocol', async () => {
    const deploy = (containers: object[]) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers } } },
    });
    const put = (body: object, manager: string) =>
      rawRequest(h, 'PATCH', `/apis/apps/v1/namespaces/default/deployments/web?fieldManager=${manager}`, {
        body,
        contentType: 'application/apply-patch+yaml',
      });
    expect((await put(deploy([{ name: 'app', image: 'a:1', ports: [{ containerPort: 80 }] }]), 'Terraform')).status).toBe(201);
    const sidecar = await put(deploy([{ name: 'proxy', image: 'p:1' }]), 'mesh');
    expect(sidecar.status).toBe(200);
    expect(sidecar.json.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['app', 'proxy']);
    const owned = sidecar.json.metadata.managedFields.find((m: { manager: string }) => m.manager === 'Terraform').fieldsV1;
    expect(owned['f:spec']['f:template']['f:spec']['f:containers']).toEqual({
      'k:{"name":"app"}': {
        '.': {},
        'f:image': {},
        'f:name': {},
        'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
      },
    });
    // Changing the other manager's container is a conflict on that item's field.
    const clash = await put(
      deploy([
        { name: 'app', image: 'a:1', ports: [{ containerPort: 80 }] },
        { name: 'proxy', image: 'p:2' },
      ]),
      'Terraform',
    );
    expect(clash.json.message).toBe(
      'Apply failed with 1 conflict: conflict with "mesh": .spec.template.spec.containers[name="proxy"].image',
    );
  });

  test('the programmatic serverSideApply behaves the same', () => {
    h.emulator.serverSideApply(cm({ a: '1' }));
    h.emulator.apply({ ...cm({ a: 'seeded' }) });
    expect(() => h.emulator.serverSideApply(cm({ a: '1' }))).toThrow(KubeEmulatorError);
    expect(h.emulator.serverSideApply(cm({ a: '1' }), { force: true }).data).toEqual({ a: '1' });
    void CONFIGMAPS;
  });
});
