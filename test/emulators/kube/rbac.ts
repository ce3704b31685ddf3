/**
 * Request attributes and RBAC authorization over the Roles, ClusterRoles and bindings stored
 * in the emulator.
 *
 * - Attributes follow k8s.io/apiserver/pkg/endpoints/request/requestinfo.go (v0.33): verbs
 *   from the method (`list`/`watch` for collections, `watch` for `?watch=` other than
 *   0/false, `deletecollection`), the namespace of `namespaces/<name>` is that name, and a
 *   list or watch with `fieldSelector=metadata.name=<x>` is about the object `<x>`.
 * - Rules match as in kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go
 *   (`RuleAllows`) and pkg/apis/rbac/v1/evaluation_helpers.go (`VerbMatches`,
 *   `APIGroupMatches`, `ResourceMatches` with `*` and `*\/subresource`, `ResourceNameMatches`,
 *   `NonResourceURLMatches` with a trailing `*`).
 * - Bindings resolve as pkg/registry/rbac/validation/rule.go (`VisitRulesFor`,
 *   `appliesToUser`): ClusterRoleBindings everywhere, RoleBindings in their namespace, a
 *   ServiceAccount subject without a namespace means the binding's namespace, a missing role
 *   becomes part of the denial reason (`RBAC: clusterrole.rbac.authorization.k8s.io "x" not
 *   found`).
 * - `system:masters` is always allowed (the privileged-group authorizer kube-apiserver puts
 *   before RBAC). Aggregated ClusterRoles (`aggregationRule`) are not computed.
 */

type Obj = Record<string, any>;

export interface UserInfo {
  readonly name: string;
  readonly groups: readonly string[];
}

export interface RequestAttributes {
  readonly user: UserInfo;
  readonly verb: string;
  readonly resourceRequest: boolean;
  readonly path: string;
  readonly apiGroup: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
}

/** The stored RBAC objects the authorizer reads. */
export interface RbacSource {
  clusterRole(name: string): Obj | undefined;
  role(namespace: string, name: string): Obj | undefined;
  clusterRoleBindings(): Iterable<Obj>;
  roleBindings(namespace: string): Iterable<Obj>;
}

/** Attributes of a request, or `undefined` parts for a non-resource path. */
export function requestAttributes(user: UserInfo, method: string, pathname: string, query: URLSearchParams): RequestAttributes {
  const base = { user, path: pathname, apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '' };
  const parts = pathname
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  let rest: string[];
  let apiGroup = '';
  let apiVersion: string;
  if (parts[0] === 'api' && parts.length >= 3) {
    apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiGroup = parts[1];
    apiVersion = parts[2];
    rest = parts.slice(3);
  } else {
    return { ...base, verb: method.toLowerCase(), resourceRequest: false };
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    // `namespaces/<ns>/<resource>...`; `namespaces/<ns>` and its status/finalize stay the namespace itself.
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  let name = rest[1] ?? '';
  const subresource = rest.slice(2).join('/');
  let verb: string;
  switch (method) {
    case 'GET':
    case 'HEAD':
      // A named GET stays `get` even with ?watch; only collections become list or watch.
      verb = name ? 'get' : isWatch(query) ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = method.toLowerCase();
  }
  if ((verb === 'list' || verb === 'watch') && !name) {
    const m = /(?:^|,)metadata\.name==?([^,]*)/.exec(query.get('fieldSelector') ?? '');
    if (m) name = m[1];
  }
  return { ...base, verb, resourceRequest: true, apiGroup, apiVersion, namespace, resource, subresource, name };
}

/** `?watch=` as ParseBool reads it (ListOptions decoding). */
export function isWatch(query: URLSearchParams): boolean {
  return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(query.get('watch') ?? '');
}

function ruleAllows(a: RequestAttributes, rule: Obj): boolean {
  const verbs: string[] = Array.isArray(rule.verbs) ? rule.verbs : [];
  if (!verbs.some((v) => v === '*' || v === a.verb)) return false;
  if (!a.resourceRequest) {
    const urls: string[] = Array.isArray(rule.nonResourceURLs) ? rule.nonResourceURLs : [];
    return urls.some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.replace(/\*+$/, ''))));
  }
  const groups: string[] = Array.isArray(rule.apiGroups) ? rule.apiGroups : [];
  if (!groups.some((g) => g === '*' || g === a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resources: string[] = Array.isArray(rule.resources) ? rule.resources : [];
  if (!resources.some((r) => r === '*' || r === combined || (a.subresource !== '' && r === `*/${a.subresource}`))) return false;
  const names: string[] = Array.isArray(rule.resourceNames) ? rule.resourceNames : [];
  return names.length === 0 || names.includes(a.name);
}

function appliesTo(user: UserInfo, subject: Obj, bindingNamespace: string): boolean {
  switch (subject?.kind) {
    case 'User':
      return user.name === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace || bindingNamespace;
      return ns !== '' && user.name === `system:serviceaccount:${ns}:${subject.name}`;
    }
    default:
      return false;
  }
}

/** RBAC's decision; `reason` is what the Forbidden message appends (empty unless roles were missing). */
export function authorize(a: RequestAttributes, rbac: RbacSource): { allowed: boolean; reason: string } {
  if (a.user.groups.includes('system:masters')) return { allowed: true, reason: '' };
  const errors: string[] = [];
  const rulesOf = (ref: Obj, namespace: string): Obj[] | undefined => {
    if (ref?.kind === 'ClusterRole') {
      const role = rbac.clusterRole(ref.name);
      if (!role) errors.push(`clusterrole.rbac.authorization.k8s.io "${ref.name}" not found`);
      return role?.rules;
    }
    if (ref?.kind === 'Role' && namespace) {
      const role = rbac.role(namespace, ref.name);
      if (!role) errors.push(`role.rbac.authorization.k8s.io "${ref.name}" not found`);
      return role?.rules;
    }
    return undefined;
  };
  for (const b of rbac.clusterRoleBindings()) {
    if (!(b.subjects ?? []).some((s: Obj) => appliesTo(a.user, s, ''))) continue;
    if ((rulesOf(b.roleRef, '') ?? []).some((r) => ruleAllows(a, r))) return { allowed: true, reason: '' };
  }
  if (a.namespace) {
    for (const b of rbac.roleBindings(a.namespace)) {
      if (!(b.subjects ?? []).some((s: Obj) => appliesTo(a.user, s, a.namespace))) continue;
      if ((rulesOf(b.roleRef, a.namespace) ?? []).some((r) => ruleAllows(a, r))) return { allowed: true, reason: '' };
    }
  }
  const aggregate = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  return { allowed: false, reason: errors.length > 0 ? `RBAC: ${aggregate}` : '' };
}

/** The Forbidden message of responsewriters/errors.go (`forbiddenMessage`) wrapped as `NewForbidden` does. */
export function forbiddenMessage(a: RequestAttributes, reason: string): string {
  let msg: string;
  if (!a.resourceRequest) msg = `User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  else {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    msg = `User "${a.user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}"`;
    msg += a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
  }
  if (reason) msg = `${msg}: ${reason}`;
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  if (!a.resource) return `forbidden: ${msg}`;
  return a.name ? `${qualified} "${a.name}" is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`;
}

/** The bootstrap policy the emulator starts with (pkg/registry/rbac/rest/storage_rbac.go, plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go): discovery for every authenticated user, cluster-admin for `system:masters`. */
export function bootstrapPolicy(): Obj[] {
  const labels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
  const annotations = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };
  const rbac = 'rbac.authorization.k8s.io';
  return [
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin', labels, annotations },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'system:discovery', labels, annotations },
      rules: [
        {
          nonResourceURLs: [
            '/api',
            '/api/*',
            '/apis',
            '/apis/*',
            '/healthz',
            '/livez',
            '/openapi',
            '/openapi/*',
            '/readyz',
            '/version',
            '/version/',
          ],
          verbs: ['get'],
        },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'cluster-admin', labels, annotations },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: rbac, kind: 'Group', name: 'system:masters' }],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:discovery', labels, annotations },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'system:discovery' },
      subjects: [{ apiGroup: rbac, kind: 'Group', name: 'system:authenticated' }],
    },
  ];
}
