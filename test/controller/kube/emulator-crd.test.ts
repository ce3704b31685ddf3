/**
 * CustomResourceDefinitions in the Kubernetes API emulator: the Installing → Established
 * sequence and discovery, structural schemas, and server-side validation of custom
 * resources (schema and CEL rules), as apiextensions-apiserver does them.
 */
import { ALL_KINDS, customResourceDefinition } from '../../../lib/k8s/crds';
import { KubeEmulatorError } from '../../emulators/kube/emulator';
import { Harness, eventually, rawRequest, startHarness } from './helpers';

const widgetCrd = (schema: object) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', kind: 'Widget' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } }],
  },
});

const schema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['size'],
      properties: {
        size: { type: 'integer', minimum: 1, maximum: 10 },
        color: { type: 'string', enum: ['red', 'blue'] },
        min: { type: 'integer' },
        max: { type: 'integer' },
        owner: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'owner is immutable' }] },
      },
      'x-kubernetes-validations': [
        { rule: '!has(self.min) || !has(self.max) || self.min <= self.max', message: 'min must not exceed max' },
      ],
    },
  },
};

const widget = (spec: object, name = 'w') => ({
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name, namespace: 'default' },
  spec,
});

describe('CustomResourceDefinitions', () => {
  let h: Harness;
  afterEach(() => h.close());

  test('a new CRD is served once its names are accepted but listed in discovery only once Established', async () => {
    h = await startHarness({ namespaces: ['default'], crdEstablishDelayMs: 1500 });
    const created = await rawRequest(h, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd(schema) });
    expect(created.status).toBe(201);
    const crdStatus = () =>
      (h.emulator.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: 'widgets.example.com' }) as any)
        .status;
    await eventually(() => crdStatus().conditions !== undefined, 'names accepted');
    expect(
      crdStatus().conditions.map((c: { type: string; status: string; reason: string }) => `${c.type}=${c.status}/${c.reason}`),
    ).toEqual(['NamesAccepted=True/NoConflicts', 'Established=False/Installing']);

    // Installing: the endpoint answers, discovery does not list it, a REST mapper finds no kind.
    expect((await rawRequest(h, 'POST', '/apis/example.com/v1/namespaces/default/widgets', { body: widget({ size: 1 }) })).status).toBe(
      201,
    );
    expect((await rawRequest(h, 'GET', '/apis/example.com/v1')).status).toBe(404);
    expect((await rawRequest(h, 'GET', '/apis')).json.groups.map((g: { name: string }) => g.name)).not.toContain('example.com');
    expect(() => h.emulator.apply(widget({ size: 2 }, 'w2'))).toThrow('no matches for kind "Widget" in version "example.com/v1"');

    await eventually(
      () => crdStatus().conditions.some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True'),
      'Established',
      10_000,
    );
    expect((await rawRequest(h, 'GET', '/apis/example.com/v1')).json.resources.map((r: { name: string }) => r.name)).toEqual(['widgets']);
    h.emulator.apply(widget({ size: 2 }, 'w2'));
  });

  test('CRDs given at start are Established at once', async () => {
    h = await startHarness({ namespaces: ['default'], crds: ALL_KINDS.map(customResourceDefinition) });
    const group = (customResourceDefinition(ALL_KINDS[0]) as { spec: { group: string } }).spec.group;
    const docs = await rawRequest(h, 'GET', `/apis/${group}`);
    expect(docs.status).toBe(200);
  });

  test('non-structural schemas are refused', async () => {
    h = await startHarness({ namespaces: ['default'] });
    const res = await rawRequest(h, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: widgetCrd({ type: 'object', properties: { spec: { properties: { size: { type: 'integer' } } }, list: { type: 'array' } } }),
    });
    expect(res.status).toBe(422);
    expect(res.json.message).toBe(
      'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: [spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields, spec.versions[0].schema.openAPIV3Schema.properties[list].items: Required value: must be specified]',
    );
  });

  describe('custom resource validation', () => {
    beforeEach(async () => {
      h = await startHarness({ namespaces: ['default'], crdEstablishDelayMs: 0 });
      h.emulator.apply(widgetCrd(schema));
      await eventually(() => {
        h.emulator.get({ apiVersion: 'example.com/v1', kind: 'Widget', name: 'none', namespace: 'default' });
      }, 'Established');
    });
    const create = (spec: object, name = 'w') =>
      rawRequest(h, 'POST', '/apis/example.com/v1/namespaces/default/widgets', { body: widget(spec, name) });

    test("schema errors name the field in the API server's words", async () => {
      const res = await create({ size: 11, color: 'green' });
      expect(res.status).toBe(422);
      expect(res.json.message).toBe(
        'Widget.example.com "w" is invalid: [spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10, spec.color: Unsupported value: "green": supported values: "red", "blue", ' +
          '<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]',
      );
      expect(res.json.details.causes.slice(0, 2)).toEqual([
        {
          reason: 'FieldValueInvalid',
          message: 'Invalid value: 11: spec.size in body should be less than or equal to 10',
          field: 'spec.size',
        },
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "green": supported values: "red", "blue"', field: 'spec.color' },
      ]);
      expect((await create({ size: 0 })).json.message).toBe(
        'Widget.example.com "w" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1',
      );
      expect((await create({})).json.details.causes[0]).toEqual({
        reason: 'FieldValueRequired',
        message: 'Required value',
        field: 'spec.size',
      });
    });

    test('CEL rules run on the server with their message; blocking schema errors skip them', async () => {
      const res = await create({ size: 1, min: 5, max: 2 });
      expect(res.json.message).toBe('Widget.example.com "w" is invalid: spec: Invalid value: "object": min must not exceed max');
      const both = await create({ size: 1, color: 'green', min: 5, max: 2 });
      expect(both.json.message).toBe(
        'Widget.example.com "w" is invalid: [spec.color: Unsupported value: "green": supported values: "red", "blue", <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]',
      );
    });

    test('transition rules compare with the stored object on updates only', async () => {
      const created = await create({ size: 1, owner: 'a' });
      expect(created.status).toBe(201);
      const changed = await rawRequest(h, 'PATCH', '/apis/example.com/v1/namespaces/default/widgets/w', {
        body: { spec: { owner: 'b' } },
        contentType: 'application/merge-patch+json',
      });
      expect(changed.status).toBe(422);
      expect(changed.json.message).toBe('Widget.example.com "w" is invalid: spec.owner: Invalid value: "string": owner is immutable');
      const same = await rawRequest(h, 'PATCH', '/apis/example.com/v1/namespaces/default/widgets/w', {
        body: { spec: { size: 2 } },
        contentType: 'application/merge-patch+json',
      });
      expect(same.status).toBe(200);
    });

    test('a custom resource over the etcd request limit is refused by storage', () => {
      let err: unknown;
      try {
        h.emulator.apply(widget({ size: 1, owner: 'x'.repeat(1.6 * 1024 * 1024) }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KubeEmulatorError);
      expect((err as KubeEmulatorError).status).toMatchObject({ code: 500, message: 'etcdserver: request is too large' });
    });
  });
});
