/**
 * The report of `verify`: one line per problem (what, where, expected and found, fix), one
 * line per device without errors, and a summary; or the same as JSON.
 */
import type { VerifyProblem } from './checks';
import type { DeviceVerification } from './verify';
import { distinctProblems } from './verify';

/** What verify cannot read on any device, said once per report. */
export const VERIFY_NOTES: readonly string[] = [
  'the saved configuration is not read (neither iControl REST nor tmsh lists it); the synthesized tmsh commands are checked for "save sys config" instead',
];

export function problemLine(p: VerifyProblem): string {
  return `${p.severity === 'error' ? 'ERROR' : 'WARN '} [${p.check}] ${p.device}: ${p.where}: expected ${p.expected}; found ${p.found.replace(/\.$/, '')}. Fix: ${p.fix}`;
}

function counted(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

export function formatVerifyText(results: readonly DeviceVerification[]): string {
  const problems = distinctProblems(results);
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  const lines = [...errors, ...warnings].map(problemLine);
  for (const r of results) {
    if (!r.problems.some((p) => p.severity === 'error')) lines.push(`OK    ${r.device} on ${r.url}: ${r.checked.join(', ')}`);
  }
  const urls = [...new Set(results.map((r) => r.url))].join(', ');
  const summary =
    errors.length || warnings.length
      ? [errors.length ? counted(errors.length, 'error') : '', warnings.length ? counted(warnings.length, 'warning') : '']
          .filter(Boolean)
          .join(', ')
      : 'all checks passed';
  lines.push(`verify: ${summary} (${counted(results.length, 'device')} on ${urls})`);
  for (const n of VERIFY_NOTES) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}

export function formatVerifyJson(results: readonly DeviceVerification[]): string {
  const problems = distinctProblems(results);
  return `${JSON.stringify(
    {
      ok: !problems.some((p) => p.severity === 'error'),
      errors: problems.filter((p) => p.severity === 'error').length,
      warnings: problems.filter((p) => p.severity === 'warning').length,
      devices: results.map((r) => ({
        device: r.device,
        url: r.url,
        checked: r.checked,
        ok: !r.problems.some((p) => p.severity === 'error'),
      })),
      problems,
      notes: VERIFY_NOTES,
    },
    null,
    2,
  )}\n`;
}
