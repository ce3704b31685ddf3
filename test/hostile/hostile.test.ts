/**
 * Hostile-input campaign: at least 1,000 generated cases over every construct, value-object
 * factory and CLI input, run as plain JavaScript (see cases-*.js: no TypeScript type stands
 * between an input and the library). Every case declares its outcome; the test fails on any
 * internal error, silently accepted bad input, rejection without path/field/value/fix,
 * accepted input with invalid or unfaithful output, or refused legal input.
 *
 * HOSTILE_FILTER=<regex> runs the matching case ids only; HOSTILE_REPORT=1 writes the category
 * table and the failures to test/hostile/REPORT.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const { runAll } = require('./run') as { runAll: (options: { filter?: string }) => Promise<any> };
const H = require('./harness');

let report: any;

beforeAll(
  async () => {
    report = await runAll({ filter: process.env.HOSTILE_FILTER });
    const text = [
      `Hostile-input campaign: ${report.results.length} cases${report.as3 ? '' : ' (AS3 schema absent: AS3 validation skipped)'}`,
      H.markdownTable(report.table.rows),
      '',
      `internal errors ${report.table.classes.internal}, silently accepted ${report.table.classes['silent-accept']}, rejections missing path/field/value/fix ${report.table.classes['bad-rejection']}, accepted-but-invalid output ${report.table.classes['invalid-output']}, legal input refused ${report.table.classes['refused-legal']}`,
    ].join('\n');

    console.log(text);
    if (process.env.HOSTILE_REPORT) {
      const failures = `## Failures, grouped\n\n\`\`\`\n${H.compactFailureReport(report.results)}\n\`\`\`\n\n## Failures, one per case\n\n\`\`\`\n${H.failureReport(report.results)}\n\`\`\`\n`;
      fs.writeFileSync(path.join(__dirname, 'REPORT.md'), `${text}\n\n${failures}`);
    }
  },
  30 * 60 * 1000,
);

describe('hostile input', () => {
  test('covers every construct, value-object factory and CLI command with at least 1,000 cases', () => {
    if (process.env.HOSTILE_FILTER) return;
    expect(report.results.length).toBeGreaterThanOrEqual(1000);
    const ids = report.results.map((r: any) => r.id).join('\n');
    for (const name of [
      'ClusterEgressRule.',
      'NamespaceEgressRule.',
      'ServiceEgressRule.',
      'ExternalService.',
      'AfmDevice.',
      'SharedBigip.',
      'EgressController.',
      'EgressCrdStack.',
      'EgressGuardrails.',
      'cli.import-',
      'cli.simulate-',
      'cli.explain-',
      'cli.graph-',
      'cli.diff-',
      'cli.state-',
      '-resolve-',
      '-device-',
      'cli.out-',
    ]) {
      expect({ name, covered: ids.includes(name) }).toEqual({ name, covered: true });
    }
    // Every static factory of EgressPort, EgressDestination, EgressSnat and BigipCredentials is called by some case.
    expect(report.factories.uncalled).toEqual([]);
  });

  test.each(H.FAILURE_CLASSES as string[])('no case ends as: %s', (cls) => {
    const failed = report.results.filter((r: any) => r.cls === cls).map((r: any) => `[${r.category}] ${r.id}: ${r.detail ?? ''}`);
    expect(failed).toEqual([]);
  });
});
