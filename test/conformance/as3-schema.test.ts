import fc from 'fast-check';
import { mergeAs3, renderAs3, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { limitPolicyArb, limitSharedArb, policyArb } from '../support/arbitraries';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';

const LIMIT_POLICIES = 5000;
const SHARED_SETS = 300;

describeWithAs3Schema('AS3 declarations validate against F5\u2019s AS3 3.56 schema', () => {
  test('600 random valid policies render to schema-valid AS3', () => {
    const validator = as3Validator()!;
    let runs = 0;
    fc.assert(
      fc.property(policyArb({ maxRules: 15 }), (policy) => {
        runs++;
        const result = validator.validate(renderAs3(compilePolicy(policy)));
        if (!result.valid) throw new Error(result.errors.join('\n'));
      }),
      { numRuns: 600 },
    );
    expect(runs).toBe(600);
  });

  test(`${LIMIT_POLICIES} random valid policies at every limit render to schema-valid AS3`, () => {
    // Longest cluster (40), tenant and application (48), namespace, service and rule names (63);
    // audit at every level and device audit mode; dual stack; route domains up to 65534; free
    // text at 64 characters with every allowed character; up to 40 ports over every protocol.
    const validator = as3Validator()!;
    const seen = { rules: 0, audit: 0, deviceAudit: 0, longNames: 0, ipv6Pods: 0, routeDomains: 0 };
    fc.assert(
      fc.property(limitPolicyArb(), (policy) => {
        const result = validator.validate(renderAs3(compilePolicy(policy)));
        if (!result.valid) throw new Error(result.errors.join('\n'));
        seen.rules += policy.rules.length;
        seen.audit += policy.rules.filter((r) => r.audit).length;
        if (policy.device.audit) seen.deviceAudit++;
        if (
          policy.device.tenant.length === 48 &&
          policy.device.cluster.length === 40 &&
          policy.rules.some((r) => r.namespace?.length === 63 && r.name.length === 63)
        )
          seen.longNames++;
        if (policy.device.podCidrs.some((c) => c.family === 6)) seen.ipv6Pods++;
        if (policy.device.routeDomain !== 0) seen.routeDomains++;
      }),
      { numRuns: LIMIT_POLICIES },
    );
    // The generator really reaches the limits (so validity is not vacuous).
    // About 5 % of draws; the bound leaves room for the random seed.
    expect(seen.longNames).toBeGreaterThan(LIMIT_POLICIES / 40);
    expect(seen.deviceAudit).toBeGreaterThan(LIMIT_POLICIES / 5);
    expect(seen.audit).toBeGreaterThan(seen.rules / 5);
    expect(seen.ipv6Pods).toBeGreaterThan(LIMIT_POLICIES / 5);
    expect(seen.routeDomains).toBeGreaterThan(LIMIT_POLICIES / 2);
  });

  test(`${SHARED_SETS} random shared BIG-IPs with 2 to 4 clusters at every limit: what the device holds validates`, () => {
    const validator = as3Validator()!;
    fc.assert(
      fc.property(limitSharedArb(), (policies) => {
        const compiled = policies.map((p) => compilePolicy(p));
        const requests = [renderSharedAs3('cdktf_ces', compiled), ...compiled.map(renderTenantAs3)];
        // The shared request is complete on its own; a tenant's request points into it.
        const shared = validator.validate(requests[0]);
        if (!shared.valid) throw new Error(shared.errors.join('\n'));
        const merged = validator.validate(mergeAs3(requests));
        if (!merged.valid) throw new Error(merged.errors.join('\n'));
      }),
      { numRuns: SHARED_SETS },
    );
  });

  test('the validator rejects what AS3 would reject', () => {
    const validator = as3Validator()!;
    const decl = renderAs3(compilePolicy(fc.sample(policyArb(), { numRuns: 1, seed: 7 })[0])) as any;
    const broken = JSON.parse(JSON.stringify(decl));
    broken.declaration.Common.Shared.k8s_test_global_policy.rules = [{ use: '/Common/Shared/k8s_test_missing' }];
    expect(validator.validate(broken).errors.join('\n')).toMatch(/pointer "\/Common\/Shared\/k8s_test_missing" does not resolve/);
    const upper = JSON.parse(JSON.stringify(decl));
    upper.declaration.Common.Shared.k8s_test_vs_policy.rules.at(-1).protocol = 'ANY';
    expect(validator.validate(upper).valid).toBe(false);
    const remark = JSON.parse(JSON.stringify(decl));
    remark.declaration.Common.Shared.k8s_test_cluster_rules.remark = 'x'.repeat(65);
    expect(validator.validate(remark).valid).toBe(false);
  });
});
