/**
 * Properties of the diff over random policies (rendered in memory the way AfmDevice renders
 * them): an output compared with itself shows no change, and the diff of B against A is the
 * diff of A against B mirrored: gained ↔ lost, old ↔ new.
 */
import fc from 'fast-check';
import { deviceCommands, renderAs3 } from '../../lib/afm/as3';
import { ChangeLine, DiffResult, diffPolicies } from '../../lib/cli/diff/compute';
import { PolicyView, policyView } from '../../lib/analysis/engine';
import { compilePolicy } from '../../lib/policy/compile';
import type { PolicyModel } from '../../lib/policy/model';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import { policyArb } from '../support/arbitraries';

const AT = new Date('2026-03-04T12:00:00Z');

function viewOf(model: PolicyModel, label: string): PolicyView {
  const compiled = compilePolicy(model, { now: AT });
  return policyView({
    label,
    model,
    plan: buildSyncPlan(compiled),
    as3: [JSON.parse(JSON.stringify(renderAs3(compiled)))],
    commands: deviceCommands(compiled).apply,
  });
}

/** Every change as one comparable string, per workload. */
function lines(r: DiffResult, mirror = false): string[] {
  const swap = { gained: 'lost', lost: 'gained', changed: 'changed', rerouted: 'rerouted' } as const;
  const text = (c: ChangeLine) => {
    const [a, b] = mirror ? [c.new, c.old] : [c.old, c.new];
    return JSON.stringify([mirror ? swap[c.change] : c.change, c.audit, c.destination, c.onlyFamily, c.protocol, c.ports, a, b, c.when]);
  };
  return r.workloads.flatMap((w) => w.changes.map((c) => `${w.workload.label} ${text(c)}`)).sort();
}

const small = policyArb({ maxRules: 5 });

test('an output compared with itself shows no change', () => {
  fc.assert(
    fc.property(small, (model) => {
      const v = viewOf(model, 'a');
      const r = diffPolicies({ old: v, new: v, at: AT, fixedTime: true, dns: new Map() });
      expect(r.workloads).toEqual([]);
      expect(r.counts.flows).toBeGreaterThan(0);
    }),
    { numRuns: 40 },
  );
});

test('B against A is A against B mirrored', () => {
  fc.assert(
    fc.property(small, small, (a, b) => {
      const va = viewOf(a, 'a');
      const vb = viewOf({ ...b, device: { ...b.device, tenant: a.device.tenant, cluster: a.device.cluster } }, 'b');
      const ab = diffPolicies({ old: va, new: vb, at: AT, fixedTime: true, dns: new Map() });
      const ba = diffPolicies({ old: vb, new: va, at: AT, fixedTime: true, dns: new Map() });
      expect(lines(ba)).toEqual(lines(ab, true));
      expect(ba.counts).toEqual(ab.counts);
    }),
    { numRuns: 40 },
  );
});

test('with time windows scanned over the week, the mirror still holds', () => {
  fc.assert(
    fc.property(policyArb({ maxRules: 4 }), policyArb({ maxRules: 4 }), (a, b) => {
      const va = viewOf(a, 'a');
      const vb = viewOf({ ...b, device: { ...b.device, tenant: a.device.tenant, cluster: a.device.cluster } }, 'b');
      const ab = diffPolicies({ old: va, new: vb, at: AT, fixedTime: false, dns: new Map() });
      const ba = diffPolicies({ old: vb, new: va, at: AT, fixedTime: false, dns: new Map() });
      expect(ba.states.map((s) => s.label)).toEqual(ab.states.map((s) => s.label));
      expect(lines(ba)).toEqual(lines(ab, true));
    }),
    { numRuns: 12 },
  );
});

test('a change shows where the two outputs differ, and nowhere else: every line is a real verdict difference', () => {
  fc.assert(
    fc.property(small, small, (a, b) => {
      const va = viewOf(a, 'a');
      const vb = viewOf({ ...b, device: { ...b.device, tenant: a.device.tenant, cluster: a.device.cluster } }, 'b');
      const r = diffPolicies({ old: va, new: vb, at: AT, fixedTime: true, dns: new Map() });
      for (const w of r.workloads) {
        for (const c of w.changes) {
          expect(c.old.verdict).not.toBe(c.new.verdict);
          expect(c.change).toBe(c.new.verdict === 'allow' ? 'gained' : c.old.verdict === 'allow' ? 'lost' : 'changed');
        }
      }
    }),
    { numRuns: 30 },
  );
});
