/**
 * The firewall a device's state makes: the AFM evaluator over the declaration AS3 stores, the
 * context attachments and the list nodes read from the device (not over the synth output), so
 * that flows can be decided by what the BIG-IP really holds.
 */
import { AfmFirewall, AfmListState, AfmModelError } from '../afm/evaluator';
import { EMPTY_LIST_PLACEHOLDER } from '../clients/bigip/client';
import type { ObservedDevice } from './checks';

export interface ObservedFirewall {
  readonly firewall: AfmFirewall;
  readonly state: AfmListState;
}

/**
 * The AFM evaluator over an observed device. `tenants` limits the declaration to Common and
 * these tenants (others on the device may use features the evaluator does not model).
 * `resolved` gives the addresses the device resolves host names to (FQDN entries).
 * Throws {@link AfmModelError} when the state cannot be evaluated (nothing stored, a read that
 * failed, an attachment of a policy outside the stored declaration).
 */
export function observedFirewall(
  observed: ObservedDevice,
  tenants?: readonly string[],
  resolved: ReadonlyMap<string, readonly string[]> = new Map(),
): ObservedFirewall {
  const stored = observed.declaration;
  if (!stored) throw new AfmModelError('the device stores no AS3 declaration');
  if (!observed.globalRules || !observed.routeDomains) throw new AfmModelError('the context attachments were not read');
  const declaration = tenants
    ? Object.fromEntries(
        Object.entries(stored).filter(
          ([k, v]) =>
            !(typeof v === 'object' && v !== null && (v as { class?: unknown }).class === 'Tenant') ||
            k === 'Common' ||
            tenants.includes(k),
        ),
      )
    : stored;
  // Every context as the device shows it, "none" included: an attachment removed by hand
  // also undoes what `routeDomainEnforcement` in the declaration would say.
  const { enforcedPolicy, stagedPolicy } = observed.globalRules;
  const commands = [
    `modify security firewall global-rules enforced-policy ${enforcedPolicy ?? 'none'} staged-policy ${stagedPolicy ?? 'none'}`,
  ];
  // The evaluator names route domains by id; the device's may have any name.
  for (const rd of observed.routeDomains) {
    commands.push(
      `modify net route-domain /Common/${rd.id} fw-enforced-policy ${rd.enforcedPolicy ?? 'none'} fw-staged-policy ${rd.stagedPolicy ?? 'none'}`,
    );
  }
  const firewall = AfmFirewall.load(declaration, commands);
  const members = new Map<string, string[]>();
  for (const [path, nodes] of observed.lists)
    if (nodes && firewall.eventLists.includes(path))
      members.set(
        path,
        nodes.filter((n) => n !== EMPTY_LIST_PLACEHOLDER),
      );
  return { firewall, state: firewall.listState(members, resolved) };
}
