import fc from 'fast-check';
import { renderAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { policyArb } from '../support/arbitraries';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';

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

  test('the validator rejects what AS3 would reject', () => {
    const validator = as3Validator()!;
    const decl = renderAs3(compilePolicy(fc.sample(policyArb(), { numRuns: 1, seed: 7 })[0])) as any;
    const broken = JSON.parse(JSON.stringify(decl));
    broken.declaration.Common.Shared.k8s_test_global_policy.rules = [{ use: '/Common/Shared/k8s_test_missing' }];
    expect(validator.validate(broken).errors.join('\n')).toMatch(/pointer "\/Common\/Shared\/k8s_test_missing" does not resolve/);
    const upper = JSON.parse(JSON.stringify(decl));
    upper.declaration.k8s_test.egress.vs_policy.rules.at(-1).protocol = 'ANY';
    expect(validator.validate(upper).valid).toBe(false);
  });
});
