/**
 * Migration from F5 Container Egress Services: CES manifests → a TypeScript module of
 * cdktf-ces constructs. `readCesManifests` checks the input, `planMigration` maps it,
 * `emitModule` writes the code.
 */
import { CesInputError, CesManifests, CesProblem, ReadOptions, scanCesManifests } from './ces';
import { EmitOptions, emitModule } from './emit';
import { MappingOptions, MigrationPlan, planMigration } from './mapping';

export {
  CES_ACTIONS,
  CES_API_VERSION,
  CES_CLUSTER_SERVICE_NAMESPACE,
  CES_KINDS,
  CES_PORT_PATTERN,
  type CesAction,
  type CesAddress,
  type CesExternalService,
  CesInputError,
  type CesKind,
  type CesManifests,
  type CesObjectBase,
  type CesPort,
  type CesProblem,
  type CesRule,
  type CesRuleKind,
  type CesScan,
  formatCesProblem,
  readCesManifests,
  type ReadOptions,
  resourceName,
  scanCesManifests,
} from './ces';
export {
  ACTION_OF,
  bandwidthRate,
  labelName,
  MAPPING_RULES,
  type MappingOptions,
  MIGRATED_PRIORITY,
  type MigratedExternalService,
  type MigratedRule,
  type MigrationItem,
  type MigrationMetadata,
  type MigrationPlan,
  planMigration,
  portsToken,
  RULE_ORDER,
} from './mapping';
export { commentSafe, DEFAULT_LIBRARY, emitModule, type EmitOptions, itemText, MIGRATED_FUNCTION } from './emit';

export interface CesImport {
  readonly manifests: CesManifests;
  readonly plan: MigrationPlan;
  /** Source of the generated module. */
  readonly module: string;
}

/** Reads, maps and emits; throws {@link CesInputError} listing every problem of the input. */
export function importCes(text: string, file: string, options: ReadOptions & MappingOptions & EmitOptions = {}): CesImport {
  const scan = scanCesManifests(text, file, options);
  let plan: MigrationPlan | undefined;
  let problems: CesProblem[] = [...scan.problems];
  try {
    plan = planMigration(scan.manifests, { ...options, rejectedExternalServices: scan.rejectedExternalServices });
  } catch (e) {
    if (!(e instanceof CesInputError)) throw e;
    problems = [...problems, ...e.problems];
  }
  if (problems.length || !plan) {
    const line = (p: CesProblem) => Number(p.where.slice(p.where.lastIndexOf(':') + 1)) || 0;
    throw new CesInputError(
      problems
        .map((p, i) => ({ p, i }))
        .sort((a, b) => line(a.p) - line(b.p) || a.i - b.i)
        .map((x) => x.p),
    );
  }
  return { manifests: scan.manifests, plan, module: emitModule(plan, options) };
}
