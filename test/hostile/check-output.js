'use strict';
/**
 * Readers of a synthesized output for the checks of accepted cases: "the output says exactly
 * what the input said". Everything here reads cdk.tf.json (and the AS3 JSON inside it) as a
 * reviewer would; nothing calls into the library.
 */
const ipaddr = require('ipaddr.js');
const { show } = require('./harness');

const ACTION_CR = { DENY: 'Deny', REJECT: 'Reject', ALLOW: 'Allow', ALLOW_FINAL: 'AllowFinal' };
const WEEK = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const API = 'egress.cdktf-ces.io';

function decls(out) {
  return out.as3.map((a) => (a.request.class === 'AS3' ? a.request.declaration : a.request));
}

function walk(v, fn) {
  if (v && typeof v === 'object') {
    fn(v);
    for (const x of Object.values(v)) walk(x, fn);
  }
}

/** Every AS3 object of a class, with its item name. */
function as3Objects(out, cls) {
  const found = [];
  for (const d of decls(out)) {
    for (const [tenantName, tenant] of Object.entries(d)) {
      if (!tenant || tenant.class !== 'Tenant') continue;
      for (const [appName, app] of Object.entries(tenant)) {
        if (!app || app.class !== 'Application') continue;
        for (const [name, obj] of Object.entries(app))
          if (obj && obj.class === cls) found.push({ tenant: tenantName, app: appName, name, obj });
      }
    }
  }
  return found;
}

/** Inline AFM rules (not references to rule lists), wherever they are. */
function firewallRules(out) {
  const rules = [];
  for (const cls of ['Firewall_Rule_List', 'Firewall_Policy']) {
    for (const { obj } of as3Objects(out, cls)) for (const r of obj.rules || []) if (r && typeof r.name === 'string') rules.push(r);
  }
  return rules;
}

function itemByName(out, name) {
  const last = name.slice(name.lastIndexOf('/') + 1);
  for (const d of decls(out)) {
    for (const tenant of Object.values(d)) {
      if (!tenant || tenant.class !== 'Tenant') continue;
      for (const app of Object.values(tenant)) if (app && app.class === 'Application' && app[last]) return app[last];
    }
  }
  return undefined;
}

function crs(out, kind) {
  return out.crs.filter((c) => c.kind === kind);
}

function findCr(out, kind, name) {
  const found = crs(out, kind).filter((c) => c.metadata && c.metadata.name === name);
  return found.length === 1 ? found[0] : undefined;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

const same = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));

function eq(actual, expected, what) {
  return same(actual, expected) ? [] : [`${what} is ${show(actual)}, expected ${show(expected)}`];
}

/** Canonical text of an address, CIDR or `a-b` range (route-domain suffixes removed). */
function canonicalAddress(text) {
  const t = String(text).replace(/%\d+/g, '');
  if (t.includes('/')) {
    const [a, len] = ipaddr.parseCIDR(t);
    return `${a.toNormalizedString()}/${len}`;
  }
  const dash = t.indexOf('-');
  if (dash > 0) return `${ipaddr.parse(t.slice(0, dash)).toNormalizedString()}-${ipaddr.parse(t.slice(dash + 1)).toNormalizedString()}`;
  return ipaddr.parse(t).toNormalizedString();
}

/** A destination as the user wrote it → the key it must render as. */
function destinationKey(d) {
  if (d.fqdn !== undefined) return `fqdn:${d.fqdn}`;
  if (d.address !== undefined) return `ip:${canonicalAddress(d.address)}`;
  if (d.cidr !== undefined) return `ip:${canonicalAddress(d.cidr)}`;
  if (d.range !== undefined) return `ip:${canonicalAddress(`${d.range[0]}-${d.range[1]}`)}`;
  if (d.externalService !== undefined) return `es:${d.externalService}`;
  return `?${JSON.stringify(d)}`;
}

/** The CR's destinations, as keys. */
function crDestinationKeys(cr) {
  return (cr.spec.destinations || []).map((d) => {
    if (d.range) return `ip:${canonicalAddress(`${d.range.first}-${d.range.last}`)}`;
    return destinationKey(d);
  });
}

/** Address and FQDN entries of the non-event destination lists of the declarations. */
function destinationListKeys(out) {
  const keys = [];
  for (const { obj, name } of as3Objects(out, 'Firewall_Address_List')) {
    if (name.includes('src_') || (obj.addresses || []).some((a) => a && a.addressDiscovery)) continue;
    for (const a of obj.addresses || []) keys.push(`ip:${canonicalAddress(a)}`);
    for (const f of obj.fqdns || []) keys.push(`fqdn:${f}`);
  }
  return keys;
}

function sameSet(a, b) {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return JSON.stringify(x) === JSON.stringify(y);
}

/** `tcp:443`, `udp:53`, `tcp:8000-8100`, `icmp:` — per AFM rule, from the port lists it uses. */
function ruleProtocolPorts(out, rule) {
  const ports = [];
  for (const p of (rule.destination && rule.destination.portLists) || []) {
    const list = itemByName(out, p.use);
    for (const x of (list && list.ports) || []) ports.push(String(x));
  }
  return ports.length ? ports.map((x) => `${rule.protocol}:${x}`) : [`${rule.protocol}:`];
}

/** Expected AFM protocol/port keys of EgressPorts as the CR lists them. */
function crPortKeys(cr) {
  const ports = cr.spec.ports;
  if (!ports || ports.length === 0) return ['any:'];
  return ports.map((p) => `${p.protocol}:${p.port === undefined ? '' : p.endPort !== undefined ? `${p.port}-${p.endPort}` : p.port}`);
}

function userRules(out) {
  return firewallRules(out).filter((r) => r.name !== 'default');
}

/** The AFM rules of the rule lists that hold the copies of ALLOW rules carried into the virtual-server policy. */
function carriedRules(out) {
  return as3Objects(out, 'Firewall_Rule_List')
    .filter(({ name }) => name.endsWith('_carried_allow'))
    .flatMap(({ obj }) => obj.rules || []);
}

function deployment(out) {
  const d = out.manifests.map((m) => m.manifest).filter((m) => m && m.kind === 'Deployment');
  return d.length === 1 ? d[0] : undefined;
}

function containerOf(out) {
  const d = deployment(out);
  return d && d.spec.template.spec.containers[0];
}

function envOf(out, name) {
  const c = containerOf(out);
  const e = c && c.env.find((x) => x.name === name);
  return e && e.value;
}

/** Kubernetes objects that one stack declares twice (same apiVersion, kind, namespace and name). */
function duplicateObjects(out) {
  const problems = [];
  const seen = new Map();
  for (const { stack, manifest } of out.manifests) {
    if (!manifest || !manifest.metadata) continue;
    const key = `${stack}|${manifest.apiVersion}|${manifest.kind}|${manifest.metadata.namespace || ''}|${manifest.metadata.name}`;
    if (seen.has(key))
      problems.push(
        `stack ${stack} declares ${manifest.kind} ${manifest.metadata.namespace ? `${manifest.metadata.namespace}/` : ''}${manifest.metadata.name} twice`,
      );
    seen.set(key, true);
  }
  return problems;
}

module.exports = {
  ACTION_CR,
  WEEK,
  API,
  decls,
  walk,
  as3Objects,
  firewallRules,
  userRules,
  carriedRules,
  itemByName,
  crs,
  findCr,
  same,
  eq,
  sortKeys,
  canonicalAddress,
  destinationKey,
  crDestinationKeys,
  destinationListKeys,
  sameSet,
  ruleProtocolPorts,
  crPortKeys,
  deployment,
  containerOf,
  envOf,
  duplicateObjects,
};
