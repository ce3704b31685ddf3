/**
 * Turns a migration plan into a TypeScript module that creates the imported constructs:
 * `addMigratedEgressPolicy(scope, device)`. Everything the user wrote reaches the code only as
 * checked names and addresses in string literals, and reaches comments only as printable ASCII
 * that cannot close a comment.
 */
import type { PortModel } from '../policy/model';
import { resourceName } from './ces';
import { MAPPING_RULES, MigratedExternalService, MigratedRule, MigrationItem, MigrationPlan, RULE_ORDER } from './mapping';

export interface EmitOptions {
  /** Module the generated code imports the constructs from. */
  readonly library?: string;
}

export const DEFAULT_LIBRARY = 'cdktf-ces';
export const MIGRATED_FUNCTION = 'addMigratedEgressPolicy';

const WIDTH = 110;

/** A string literal with single quotes; anything outside printable ASCII escaped. */
function lit(text: string): string {
  return `'${text
    .replace(/\\/g, '\\\\')
    .replace(/'/g, "\\'")
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

/** Text safe inside any comment: printable ASCII, no comment terminator. */
export function commentSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replace(/\*\//g, '*\\/');
}

/** Wraps `text` into `//` lines of at most WIDTH characters, after `lead` (first line) or `hang` (the others). */
function commentLines(indent: string, text: string, hang = '', lead = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of commentSafe(text).split(' ').filter(Boolean)) {
    const prefix = `${indent}// ${lines.length === 0 ? lead : hang}`;
    if (line && `${prefix}${line} ${word}`.length > WIDTH) {
      lines.push(`${prefix}${line}`);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(`${indent}// ${lines.length === 0 ? lead : hang}${line}`.trimEnd());
  return lines;
}

export function itemText(i: MigrationItem): string {
  return `${i.where} ${i.resource} ${i.field} ${i.value}: ${i.why}`;
}

function portExpression(p: PortModel): string {
  const { protocol, fromPort: a, toPort: b } = p;
  if (a === undefined) return `EgressPort.protocol(${lit(protocol)})`;
  if (protocol === 'tcp' || protocol === 'udp' || protocol === 'sctp')
    return a === b ? `EgressPort.${protocol}(${a})` : `EgressPort.${protocol}Range(${a}, ${b})`;
  return `EgressPort.of({ protocol: ${lit(protocol)}, fromPort: ${a}, toPort: ${b} })`;
}

const UNIT_MEMBER = { bps: 'BPS', Kbps: 'KBPS', Mbps: 'MBPS', Gbps: 'GBPS' } as const;
const ACTION_MEMBER = { DENY: 'DENY', REJECT: 'REJECT', ALLOW: 'ALLOW', ALLOW_FINAL: 'ALLOW_FINAL' } as const;
const CLASS_OF = { cluster: 'ClusterEgressRule', namespace: 'NamespaceEgressRule', service: 'ServiceEgressRule' } as const;

function externalServiceCode(es: MigratedExternalService): string[] {
  const lines = commentLines(
    '    ',
    `${resourceName(es.source)} (${es.source.where})${es.usedBy.length ? `, used by ${es.usedBy.join(', ')}` : ', used by no CES rule'}`,
  );
  lines.push(`    ${lit(es.name)}: new ExternalService(scope, ${lit(es.constructId)}, {`);
  lines.push('      device,');
  lines.push(`      name: ${lit(es.name)},`);
  lines.push('      destinations: [');
  for (const d of es.destinations) lines.push(`        EgressDestination.${d.kind === 'fqdn' ? 'fqdn' : 'address'}(${lit(d.text)}),`);
  lines.push('      ],');
  if (es.description) lines.push(`      description: ${lit(es.description)},`);
  lines.push('    }),');
  return lines;
}

function ruleCode(rule: MigratedRule, split: boolean): string[] {
  const src = rule.source;
  const head = `${resourceName(src)} (${src.where}): ${src.action}${src.logging ? ', logging' : ''}${split ? `; the part with ${rule.ports.length ? 'these ports' : 'every protocol and port'}` : ''}`;
  const lines = commentLines('    ', head);
  const body: string[] = [];
  body.push(`new ${CLASS_OF[rule.level]}(scope, ${lit(rule.constructId)}, {`);
  body.push('  device,');
  body.push(`  name: ${lit(rule.name)},`);
  if (rule.namespace !== undefined) body.push(`  namespace: ${lit(rule.namespace)},`);
  if (rule.service !== undefined) body.push(`  service: ${lit(rule.service)},`);
  body.push(`  action: EgressAction.${ACTION_MEMBER[rule.omitted ? 'ALLOW' : rule.action]},`);
  body.push(`  priority: ${rule.priority},`);
  body.push(
    `  destinations: [${rule.externalServices.map((n) => `EgressDestination.externalService(externalServices[${lit(n)}])`).join(', ')}],`,
  );
  if (rule.ports.length) body.push(`  ports: [${rule.ports.map(portExpression).join(', ')}],`);
  if (rule.logging) body.push('  logging: true,');
  if (rule.bandwidth) {
    body.push(`  // CES bandwidth iRule /Common/${commentSafe(rule.bandwidth.iRule)}: the rate its name states`);
    body.push(
      `  bandwidthLimit: { maxBandwidth: ${rule.bandwidth.maxBandwidth}, unit: BandwidthUnit.${UNIT_MEMBER[rule.bandwidth.unit]} },`,
    );
  }
  if (rule.description) body.push(`  description: ${lit(rule.description)},`);
  if (rule.metadata?.owner) body.push(`  owner: ${lit(rule.metadata.owner)},`);
  if (rule.metadata?.ticket) body.push(`  ticket: ${lit(rule.metadata.ticket)},`);
  if (rule.metadata?.justification) body.push(`  justification: ${lit(rule.metadata.justification)},`);
  body.push('}),');
  if (!rule.omitted) return [...lines, ...body.map((l) => `    ${l}`)];
  return [...lines, ...commentLines('    ', `Not imported: ${rule.omitted}.`), ...body.map((l) => `    // ${l}`)];
}

function usedSymbols(plan: MigrationPlan): string[] {
  const symbols = new Set(['AfmDevice', 'ExternalService', 'EgressDestination']);
  for (const r of plan.rules) {
    if (r.omitted) continue;
    symbols.add(CLASS_OF[r.level]);
    symbols.add('EgressAction');
    if (r.ports.length) symbols.add('EgressPort');
    if (r.bandwidth) symbols.add('BandwidthUnit');
  }
  if (plan.externalServices.length === 0) {
    symbols.delete('ExternalService');
    symbols.delete('EgressDestination');
  }
  return [...symbols].sort();
}

/** The generated module. */
export function emitModule(plan: MigrationPlan, options: EmitOptions = {}): string {
  const library = options.library ?? DEFAULT_LIBRARY;
  const out: string[] = [];
  const section = (title: string, lines: readonly string[]) => {
    out.push('//', `// ${commentSafe(title)}`);
    for (const l of lines) out.push(`//   ${commentSafe(l)}`);
  };
  out.push(`// Egress policy imported by "cdktf-ces import" from the Container Egress Services (CES) manifests in`);
  out.push(
    ...commentLines(
      '',
      `${plan.file}: ${plan.objectCount} objects${plan.cluster !== undefined ? ` of cluster ${plan.cluster}` : ''}. Review it like any other change before deploying.`,
    ),
  );
  section(
    'How CES maps to cdktf-ces:',
    plan.prefix
      ? [
          ...MAPPING_RULES,
          `Every rule and ExternalService name below starts with "${plan.prefix}-" (import --prefix), apart from the`,
          'names the device already has.',
        ]
      : MAPPING_RULES,
  );
  section('Rule order:', RULE_ORDER);
  out.push(
    '//',
    `// Not carried over (${plan.notCarried.length}${plan.notCarried.length ? '; the import fails without --allow-partial while any are listed' : ''}):`,
  );
  for (const i of plan.notCarried) out.push(...commentLines('', `- ${itemText(i)}`, '    ', '  '));
  if (plan.notCarried.length === 0) out.push('//   (none)');
  out.push('//', `// Notes (${plan.notes.length}):`);
  for (const i of plan.notes) out.push(...commentLines('', `- ${itemText(i)}`, '    ', '  '));
  if (plan.notes.length === 0) out.push('//   (none)');
  out.push(`import { Construct } from 'constructs';`);
  out.push(`import { ${usedSymbols(plan).join(', ')} } from ${lit(library)};`);
  out.push('');
  out.push('/**');
  out.push(" * Creates the imported ExternalServices and rules on `device`, inside `scope` (the device's stack or a");
  out.push(' * construct in it). The device stands in for the CES controller: keep its defaultAction DENY, as CES ends');
  out.push(' * every virtual-server policy with a drop-all.');
  out.push(' */');
  out.push(`export function ${MIGRATED_FUNCTION}(scope: Construct, device: AfmDevice) {`);
  if (plan.cluster !== undefined) {
    out.push(`  if (device.clusterName !== ${lit(plan.cluster)}) {`);
    out.push(
      `    throw new Error(\`the CES policy in ${commentSafe(plan.file).replace(/[`$\\]/g, '')} was imported for cluster ${plan.cluster}; device \${device.node.path} is for cluster \${device.clusterName}\`);`,
    );
    out.push('  }');
  }
  if (plan.externalServices.length) {
    out.push('  const externalServices = {');
    for (const es of plan.externalServices) out.push(...externalServiceCode(es));
    out.push('  };');
  } else {
    out.push('  const externalServices = {};');
  }
  const parts = new Map<string, number>();
  for (const r of plan.rules) parts.set(resourceName(r.source), (parts.get(resourceName(r.source)) ?? 0) + 1);
  if (plan.rules.some((r) => !r.omitted)) {
    out.push('  const rules = [');
  } else {
    out.push('  const rules: Construct[] = [');
  }
  plan.rules.forEach((r) => out.push(...ruleCode(r, (parts.get(resourceName(r.source)) ?? 0) > 1)));
  out.push('  ];');
  out.push('  return { externalServices, rules };');
  out.push('}');
  out.push('');
  return out.join('\n');
}
