import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { EgressPolicyError } from '../policy/errors';
import { describe } from '../policy/struct';

/**
 * The scope and id a construct of this library was given, checked before `super()` so that a
 * JavaScript caller gets a named error instead of a TypeError from inside the constructs library.
 */
export function checkedConstructId(scope: unknown, id: unknown, kind: string): string {
  const scopeProblem = `the scope of ${kind} must be a construct in a TerraformStack, such as the stack of its AfmDevice`;
  if (!Construct.isConstruct(scope)) {
    throw new EgressPolicyError([
      { path: typeof id === 'string' ? id : '', field: 'scope', value: describe(scope), message: scopeProblem },
    ]);
  }
  try {
    TerraformStack.of(scope);
  } catch {
    // The app's own path is empty: name the construct that was being created instead.
    const path = scope.node.path || (typeof id === 'string' && id !== '' ? id : '(app)');
    throw new EgressPolicyError([
      { path, field: 'scope', value: `the construct at "${scope.node.path || '(app)'}"`, message: scopeProblem },
    ]);
  }
  if (typeof id !== 'string' || id === '') {
    throw new EgressPolicyError([
      {
        path: scope.node.path,
        field: 'id',
        value: describe(id),
        message: `the construct id of ${kind} must be a non-empty string, such as "AllowDns"`,
      },
    ]);
  }
  return id;
}
