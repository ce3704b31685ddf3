/**
 * A rule's onMatch iRule: the checks at synth, the AS3 it renders (alone and beside a bandwidth
 * limit) and what the evaluators report.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { renderAs3 } from '../../lib/afm/as3';
import { checkRendering } from '../../lib/afm/rendering-check';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPolicyError } from '../../lib/policy/errors';
import { EgressIRule, IRULE_MAX_BYTES, decodeIRule, iRuleProblems, normaliseIRule, onMatchIRuleText } from '../../lib/policy/irule';
import type { RuleModel } from '../../lib/policy/model';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { testDevice } from '../support/device';
import { ruleResource } from '../../lib/k8s/resources';
import { explain, policyView } from '../../lib/analysis/engine';
import { decidedByText, formatExplanation } from '../../lib/analysis/format';
import { renderedPolicy } from '../../lib/flowlog/suggest';
import { evaluateIntent } from '../../lib/policy/intent';
import { EgressPort as P } from '../../lib/policy/port';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';
import { iRuleDeclarationErrors, storedIRuleText } from '../emulators/bigip/irule';

const TAG = 'when FLOW_INIT {\n    log local0. "egress [IP::client_addr] -> [IP::local_addr]"\n}';

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/stack/${r.name}`, action: 'ALLOW', destinations: [D.cidr('192.0.2.0/24')], ...r });
const compile = (rules: RuleModel[]) => compilePolicy({ device: testDevice(), externalServices: [], rules });
const declarationOf = (rules: RuleModel[]) => (renderAs3(compile(rules)) as any).declaration;
const issues = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof EgressPolicyError) return e.issues.map((i) => `[${i.path}] ${i.field}: ${i.message} (got ${i.value})`);
    throw e;
  }
  throw new Error('expected an EgressPolicyError');
};
const b64 = (text: string) => ({ base64: Buffer.from(text).toString('base64') });

describe('rendering', () => {
  test('a rule with onMatch points at one iRule of its own, base64 and not expanded', () => {
    const shared = declarationOf([rule({ level: 'namespace', name: 'tag', namespace: 'ops', onMatch: EgressIRule.fromString(TAG) })]).Common
      .Shared;
    expect(shared.k8s_prod_irule_n_ops_tag).toEqual({
      class: 'iRule',
      remark: 'onMatch iRule of namespace/ops/tag',
      expand: false,
      iRule: b64(TAG),
    });
    expect(shared.k8s_prod_namespace_rules.rules[0].iRule).toEqual({ use: 'k8s_prod_irule_n_ops_tag' });
    // The carried copy does not run it a second time (it ran at the rule's own context).
    expect(shared.k8s_prod_carried_allow.rules[0].iRule).toBeUndefined();
  });

  test('with a bandwidth limit: one iRule, our attach block at priority 1, then the user text verbatim', () => {
    const shared = declarationOf([
      rule({
        level: 'cluster',
        name: 'backup',
        bandwidthLimit: { maxBandwidth: 100 },
        onMatch: EgressIRule.fromString(`\r\n${TAG.replace(/\n/g, '\r\n')}\r\n\r\n`),
      }),
    ]).Common.Shared;
    expect(shared.k8s_prod_bwc_c_backup).toMatchObject({ class: 'Bandwidth_Control_Policy', maxBandwidth: 100 });
    expect(shared.k8s_prod_bwc_c_backup_attach).toBeUndefined();
    expect(shared.k8s_prod_irule_c_backup).toEqual({
      class: 'iRule',
      remark: 'bandwidth and onMatch iRule of cluster/backup',
      expand: false,
      iRule: b64(`when FLOW_INIT priority 1 {\n    BWC::policy attach k8s_prod_bwc_c_backup\n}\n${TAG}`),
    });
    expect(shared.k8s_prod_cluster_rules.rules[0].iRule).toEqual({ use: 'k8s_prod_irule_c_backup' });
  });

  test('a rule without onMatch renders exactly as before', () => {
    const shared = declarationOf([rule({ level: 'cluster', name: 'b', bandwidthLimit: { maxBandwidth: 5 } })]).Common.Shared;
    expect(Object.keys(shared).filter((k) => k.includes('irule'))).toEqual([]);
    expect(shared.k8s_prod_bwc_c_b_attach.iRule).toBe('when FLOW_INIT {\n    BWC::policy attach k8s_prod_bwc_c_b\n}\n');
  });

  test('user text with ${…}, %{…} and backquotes never appears in the declaration as text', () => {
    const code = 'when FLOW_INIT {\n    set x "`A` ${y} %{z}"\n    log local0. $x\n}';
    const json = JSON.stringify(renderAs3(compile([rule({ level: 'cluster', name: 'x', onMatch: EgressIRule.fromString(code) })])));
    expect(json).not.toMatch(/\$\{|%\{|`/);
    expect(decodeIRule(JSON.parse(json).declaration.Common.Shared.k8s_prod_irule_c_x.iRule)).toBe(code);
  });

  test('fromFile reads the file; a missing file is a problem of the rule', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'irule-'));
    const file = path.join(dir, 'tag.tcl');
    fs.writeFileSync(file, `${TAG}\n`);
    expect(rule({ level: 'cluster', name: 'f', onMatch: EgressIRule.fromFile(file) }).onMatch).toEqual({
      code: TAG,
      source: `file ${path.relative(process.cwd(), file)}`,
      sha256: require('node:crypto').createHash('sha256').update(TAG).digest('hex'),
    });
    expect(issues(() => rule({ level: 'cluster', name: 'f', onMatch: EgressIRule.fromFile(path.join(dir, 'nope.tcl')) }))).toEqual([
      `[app/stack/f] onMatch: the file cannot be read (ENOENT); check the path (got EgressIRule.fromFile(${JSON.stringify(path.join(dir, 'nope.tcl'))}))`,
    ]);
  });
});

test('the custom resource names the iRule in an annotation; its spec (and so the CRD) is unchanged', () => {
  const with_ = ruleResource(rule({ level: 'cluster', name: 'a', onMatch: EgressIRule.fromString(TAG) }), 'prod') as any;
  const without = ruleResource(rule({ level: 'cluster', name: 'a' }), 'prod') as any;
  expect(with_.spec).toEqual(without.spec);
  const sha = require('node:crypto').createHash('sha256').update(TAG).digest('hex');
  expect(with_.metadata.annotations['egress.cdktf-ces.io/on-match-irule']).toBe(`string, sha256 ${sha}`);
});

describe('checks at synth', () => {
  test('every problem at once, naming the construct path, the field and where in the code', () => {
    const code = [
      'priority 10',
      'when FLOW_INIT priority 5 {',
      '    ACL::action drop ',
      '    set c dr; $c',
      '    log local0. "a \\',
      '        b"',
      '    BWC::policy attach other',
      '    eval {log x}',
      '}',
      'when HTTP_REQUEST { log local0. x }',
    ].join('\n');
    expect(issues(() => rule({ level: 'cluster', name: 'bad', onMatch: EgressIRule.fromString(code) }))).toEqual([
      '[app/stack/bad] onMatch: remove the blanks at the end of these lines: AS3 strips them, which would change a string that spans lines (got line 3 in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      '[app/stack/bad] onMatch: a backslash ends these lines: AS3 deletes a backslash-newline with the next line\'s indentation (Tcl reads one space), gluing words together; write each command on one line (got line 5 in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      '[app/stack/bad] onMatch: only `when FLOW_INIT { … }` and comments may stand at the top level of the iRule; move this into the FLOW_INIT block (got line 1: "priority" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      '[app/stack/bad] onMatch: write the block as `when FLOW_INIT { … }`, without priority or timing: the rule runs this iRule alone (its bandwidth block, if any, runs first at priority 1) (got line 2: "when FLOW_INIT priority 5 {" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      `[app/stack/bad] onMatch: ACL::action changes the firewall's verdict, which the rule's action decides (and explain and the tests could not see); remove it, or use a DENY or REJECT rule (got line 3: "ACL::action" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))`,
      `[app/stack/bad] onMatch: drop changes the firewall's verdict, which the rule's action decides (and explain and the tests could not see); remove it, or use a DENY or REJECT rule (got line 3: "drop" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))`,
      '[app/stack/bad] onMatch: the command name comes from a variable or a substitution, so synth cannot check what it runs; name the command itself (got line 4: "$c" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      '[app/stack/bad] onMatch: BWC::policy belongs to the rule\'s bandwidthLimit; set bandwidthLimit on the rule instead (got line 7: "BWC::policy" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      '[app/stack/bad] onMatch: eval runs code built at run time, whose commands synth cannot check; write the commands out (got line 8: "eval" in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
      '[app/stack/bad] onMatch: AFM runs a firewall rule\'s iRule at FLOW_INIT only; remove the blocks of other events (got HTTP_REQUEST (line 10) in EgressIRule.fromString("priority 10\\nwhen FLOW_INIT priority 5..."))',
    ]);
  });

  test.each([
    ['', /the iRule is empty/],
    ['log local0. x', /only `when FLOW_INIT/],
    ['when FLOW_INIT {\n    log local0. x\n', /this "\{" is never closed/],
    ['when FLOW_INIT {\n    log local0. "x\n}', /this double quote is never closed/],
    ['when FLOW_INIT {\n    log local0. [IP::client_addr\n}', /this "\[" is never closed/],
    ['when FLOW_INIT {\n    log local0. x\n}\n}', /this "\}" closes nothing/],
    // Tcl counts braces in a comment inside a braced body too: this body never closes.
    [
      'when FLOW_INIT {\n    # {\n    log local0. x\n}',
      /this "\{" is never closed: add its "\}" \(Tcl pairs every brace, those in comments too\) \(got line 1: "\{"/,
    ],
    ['when FLOW_INIT {\n    log local0. x\n}\nwhen FLOW_INIT {\n    log local0. y\n}', /write exactly one `when FLOW_INIT/],
    ['when FLOW_INIT {\n    log local0. {x}y\n}', /Tcl refuses characters right after "\}"/],
    ['when FLOW_INIT {\n    log local0. "caf\u00e9"\n}', /line 2 column 21: U\+00E9/],
    ['when FLOW_INIT {\n    log local0. "a\rb"\n}', /a carriage return not followed by a line feed/],
    ['when FLOW_INIT {\n    log local0. "a\u0000b"\n}', /U\+0000/],
    ['when FLOW_INIT {\n    if {[IP::client_addr] eq "10.0.0.1"} { reject }\n}', /reject changes the firewall's verdict/],
    ['when FLOW_INIT {\n    set r [TCP::close]\n}', /TCP::close changes/],
    ['when FLOW_INIT {\n    virtual /Common/other\n}', /virtual changes/],
    ['when FLOW_INIT {\n    after 10 { log local0. x }\n}', /after runs code built at run time/],
    // Tcl resolves ::drop in the global namespace and substitutes backslash escapes in a bare command name.
    ['when FLOW_INIT {\n    ::drop\n}', /drop changes the firewall's verdict.*got line 2: "::drop"/],
    ['when FLOW_INIT {\n    ::ACL::action accept\n}', /ACL::action changes/],
    ['when FLOW_INIT {\n    \\x64rop\n}', /drop changes the firewall's verdict.*got line 2: "\\\\x64rop"/],
    ['when FLOW_INIT {\n    dr\\157p\n}', /drop changes/],
    ['when FLOW_INIT {\n    l\\og local0. x\n}', /the command name holds a backslash escape/],
    [`when FLOW_INIT {\n${'    log local0. x\n'.repeat(300)}}`, new RegExp(`at most ${IRULE_MAX_BYTES} bytes`)],
  ])('refuses %j', (code, message) => {
    const found = issues(() => rule({ level: 'cluster', name: 'r', onMatch: EgressIRule.fromString(code) }));
    expect(found.some((i) => message.test(i))).toBe(true);
  });

  test('accepts ordinary FLOW_INIT code: comments, expressions, steering, backquotes, ${…}', () => {
    const code = [
      '# tag flows of the batch pods',
      'when FLOW_INIT {',
      '    # a comment',
      '    set client [IP::client_addr]',
      '    if {[IP::addr $client equals 10.0.0.0/8] && ${client} ne "`x`"} {',
      '        IP::tos 46',
      '    } elseif { [class match $client equals batch_pods] } {',
      '        nexthop /Common/vlan2 192.0.2.1',
      '    } else {',
      '        log local0. "other %{x} \\{ [string length $client]"',
      '    }',
      '}',
    ].join('\n');
    expect(iRuleProblems(normaliseIRule(code))).toEqual([]);
  });

  test('refused on audit rules and on a device in audit mode (staged rules must not change traffic)', () => {
    expect(issues(() => rule({ level: 'cluster', name: 'a', audit: true, onMatch: EgressIRule.fromString(TAG) }))).toEqual([
      '[app/stack/a] onMatch: an audit rule must not change traffic, and whether AFM runs the iRule of a staged rule is not documented; remove onMatch until the rule is enforced, or set audit: false (got "string")',
    ]);
    const r = rule({ level: 'cluster', name: 'a', onMatch: EgressIRule.fromString(TAG) });
    expect(issues(() => renderAs3(compilePolicy({ device: testDevice({ audit: true }), externalServices: [], rules: [r] })))).toEqual([
      '[app/stack/a] onMatch: the device app/stack/Bigip is in audit mode, which must not change traffic, and whether AFM runs the iRule of a staged rule is not documented; remove onMatch until the device enforces, or turn its audit mode off (got "string")',
    ]);
  });

  test('refused on DENY and REJECT rules, and a value not made by the factories', () => {
    expect(issues(() => rule({ level: 'cluster', name: 'd', action: 'DENY', onMatch: EgressIRule.fromString(TAG) }))).toEqual([
      '[app/stack/d] onMatch: whether AFM runs an iRule for a flow a DENY rule ends is not documented; remove onMatch (set logging: true to log the flows it ends) or make the rule ALLOW or ALLOW_FINAL (got "string")',
    ]);
    expect(issues(() => rule({ level: 'cluster', name: 'd', onMatch: TAG }))).toEqual([
      '[app/stack/d] onMatch: expected an EgressIRule made with its static factories, such as EgressIRule.fromFile("tag-flows.tcl") (got "when FLOW_INIT {\\n    log local0. \\"egr...")',
    ]);
    expect(issues(() => rule({ level: 'cluster', name: 'd', onMatch: EgressIRule.fromString(42 as unknown as string) }))).toEqual([
      '[app/stack/d] onMatch: the code must be a string, not 42 (got EgressIRule.fromString(42))',
    ]);
  });
});

/** Text pieces that AS3, Terraform or a sloppy editor treat specially. */
const hostilePiece = fc.constantFrom(
  '`',
  '``',
  '`A`',
  '`~`',
  '${x}',
  '%{y}',
  '$${z}',
  '\r\n',
  '\r',
  ' \n',
  '\t\n',
  '\\\n    ',
  '"',
  '{',
  '}',
  '[',
  ']',
  '\\',
  'é',
  '\u2028',
  '\u0000',
  '😀',
  'drop',
  ' log local0. x ',
  '\n',
);
/**
 * Code with hostile pieces: on their own, as arguments or inside a quoted string of a FLOW_INIT
 * block, and padded (with a comment line) to just under, at and just over the size bound.
 */
const hostileCode = fc
  .record({
    pieces: fc.array(fc.oneof(hostilePiece, fc.string({ maxLength: 8 })), { maxLength: 12 }),
    shape: fc.constantFrom('raw' as const, 'argument' as const, 'quoted' as const),
    size: fc.option(fc.constantFrom(IRULE_MAX_BYTES - 1, IRULE_MAX_BYTES, IRULE_MAX_BYTES + 1), { nil: undefined }),
  })
  .map(({ pieces, shape, size }) => {
    const body = pieces.join('');
    if (shape === 'raw') return body;
    const line = shape === 'quoted' ? `    log local0. "${body}"` : `    log local0. ${body}`;
    const code = `when FLOW_INIT {\n${line}\n}`;
    const pad = size === undefined ? -1 : size - Buffer.byteLength(code) - '    # \n'.length;
    return pad < 0 ? code : `when FLOW_INIT {\n${line}\n    # ${'x'.repeat(pad)}\n}`;
  });

describeWithAs3Schema('hostile code', () => {
  test('is refused with issues on onMatch, or rendered so the device holds exactly the checked text', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(hostileCode, (code) => {
        let model: RuleModel;
        try {
          model = rule({ level: 'cluster', name: 'h', onMatch: EgressIRule.fromString(code) });
        } catch (e) {
          if (!(e instanceof EgressPolicyError)) throw e;
          if (Buffer.byteLength(code) === IRULE_MAX_BYTES + 1) seen.add('refused just over the bound');
          expect(e.issues.length).toBeGreaterThan(0);
          for (const i of e.issues) expect(i).toMatchObject({ path: 'app/stack/h', field: 'onMatch' });
          return;
        }
        const text = model.onMatch!.code;
        // What is accepted is what AS3 leaves alone: printable ASCII, no CR, no trailing blank,
        // no continuation, within the size bound.
        expect(text).toMatch(/^[\t\n\x20-\x7e]+$/);
        expect(text).not.toMatch(/[ \t]\n|\\\n/);
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(IRULE_MAX_BYTES);
        const request = renderAs3(compile([model]));
        expect(as3Validator()!.validate(request).errors).toEqual([]);
        const json = JSON.stringify(request);
        expect(json).not.toMatch(/\$\{|%\{|`/);
        const obj = (request as any).declaration.Common.Shared.k8s_prod_irule_c_h;
        expect(obj.expand).toBe(false);
        expect(decodeIRule(obj.iRule)).toBe(text);
        // AS3 neither expands it nor rewrites it: the device holds exactly the checked text.
        expect(iRuleDeclarationErrors((request as any).declaration)).toEqual([]);
        expect(storedIRuleText(obj)).toBe(text);
        seen.add('accepted');
        if (Buffer.byteLength(text) === IRULE_MAX_BYTES) seen.add('accepted at the bound');
        if (/[`$%]/.test(text)) seen.add('accepted with backquotes or templates');
      }),
      { numRuns: 300 },
    );
    // The generator reaches acceptance, the bound from both sides and the characters that matter.
    expect([...seen].sort()).toEqual([
      'accepted',
      'accepted at the bound',
      'accepted with backquotes or templates',
      'refused just over the bound',
    ]);
  });
});

describeWithAs3Schema('AS3 schema', () => {
  test('rules with onMatch, alone and beside bandwidth limits, at every level, validate', () => {
    const onMatch = EgressIRule.fromString(TAG);
    const result = as3Validator()!.validate(
      renderAs3(
        compile([
          rule({ level: 'cluster', name: 'a', onMatch }),
          rule({ level: 'namespace', name: 'b', namespace: 'x', onMatch, bandwidthLimit: { maxBandwidth: 10 } }),
          rule({ level: 'service', name: 'c', namespace: 'x', service: 's', action: 'ALLOW_FINAL', onMatch }),
        ]),
      ),
    );
    expect(result.errors).toEqual([]);
  });
});

describe('evaluators and explain', () => {
  const AT = new Date('2026-03-04T12:00:00Z');
  const onMatch = EgressIRule.fromString(TAG);
  const model = () => ({
    device: testDevice(),
    externalServices: [],
    rules: [
      rule({ level: 'cluster', name: 'tag-all', onMatch }),
      rule({ level: 'namespace', name: 'web', namespace: 'ops', action: 'ALLOW_FINAL', ports: [P.HTTPS], onMatch }),
    ],
  });
  const explainTo = (port: number) => {
    const m = model();
    const view = policyView({ label: 'p', ...renderedPolicy(m, AT) });
    return explain(
      view,
      undefined,
      { table: new Map(), origin: new Map() },
      {
        from: { namespace: 'ops', name: 'api' },
        to: { text: '192.0.2.10', ip: '192.0.2.10', port, protocol: 'tcp' },
        at: AT,
      },
    );
  };

  test('the AFM evaluator reports the iRule of each matching rule; the verdict is the rule actions', () => {
    const e = explainTo(443);
    expect(e.verdict).toBe('allow');
    const hits = e.flows[0].enforced.levels.map((l) => l.hit && { rule: l.hit.rule, iRule: l.hit.iRule });
    expect(hits).toEqual([
      { rule: 'c_tag-all_any', iRule: '/Common/Shared/k8s_prod_irule_c_tag-all' },
      { rule: 'n_ops_web_tcp', iRule: '/Common/Shared/k8s_prod_irule_n_ops_web' },
      undefined,
    ]);
    const text = formatExplanation(e);
    const sha = require('node:crypto').createHash('sha256').update(TAG).digest('hex').slice(0, 12);
    expect(text).toContain(
      `  iRule: /Common/Shared/k8s_prod_irule_c_tag-all runs at FLOW_INIT on ClusterEgressRule tag-all (string, sha256 ${sha}); it cannot change the verdict (verdict commands are refused at synth)\n` +
        `  iRule: /Common/Shared/k8s_prod_irule_n_ops_web runs at FLOW_INIT on NamespaceEgressRule ops/web (string, sha256 ${sha}); it cannot change the verdict (verdict commands are refused at synth)\n`,
    );
  });

  test('tables (simulate, the matchers) say that the deciding rule runs an iRule', () => {
    expect(decidedByText(explainTo(443).flows[0].enforced)).toBe(
      'NamespaceEgressRule ops/web (ALLOW_FINAL, namespace, runs an iRule on match)',
    );
  });

  test('a carried ALLOW decides at the virtual server without running the iRule again', () => {
    const e = explainTo(80);
    const vs = e.flows[0].enforced.levels[2];
    expect(vs.fallThrough).toMatchObject({ kind: 'carried', hit: { rule: 'c_tag-all_any' } });
    expect((vs.fallThrough as { hit: { iRule?: string } }).hit.iRule).toBeUndefined();
    expect(formatExplanation(e).match(/iRule: /g)).toHaveLength(1);
  });

  test('the intent evaluator names the iRule on the deciding rule', () => {
    const pod = { namespace: 'ops', name: 'api', labels: {}, ips: ['10.0.0.5'] };
    const r = evaluateIntent({
      model: model(),
      snapshot: { pods: [pod], namespaces: [{ name: 'ops', labels: {} }], services: [] },
      dns: new Map(),
      flow: { pod, destinationIp: '192.0.2.10', protocol: 'tcp', port: 443 },
      at: AT,
    });
    expect(r.enforced.decidedBy).toMatchObject({
      key: 'namespace/ops/web',
      onMatch: expect.stringMatching(/^string, sha256 [0-9a-f]{12}$/),
    });
  });
});

describe('the rendering self-check', () => {
  const compiled = compile([
    rule({ level: 'namespace', name: 'tag', namespace: 'ops', onMatch: EgressIRule.fromString(TAG) }),
    rule({ level: 'cluster', name: 'both', bandwidthLimit: { maxBandwidth: 5 }, onMatch: EgressIRule.fromString(TAG) }),
  ]);
  const check = (mutate: (shared: any) => void): string[] => {
    const decl = structuredClone((renderAs3(compiled) as any).declaration);
    mutate(decl.Common.Shared);
    try {
      checkRendering({ adc: decl, devices: [compiled], contextOwner: compiled.model.device.tenant });
      return [];
    } catch (e) {
      if (e instanceof EgressPolicyError) return e.issues.map((i) => i.message);
      throw e;
    }
  };

  test('passes the rendering, and finds an iRule that is not the code of its rule, expanded, missing or run by a carried copy', () => {
    expect(check(() => {})).toEqual([]);
    const other = (s: any) => (s.k8s_prod_irule_n_ops_tag.iRule = b64(TAG.replace('egress', 'other')));
    expect(check(other)[0]).toMatch(/runs \/Common\/Shared\/k8s_prod_irule_n_ops_tag, which is not the rule's onMatch code/);
    expect(check((s) => (s.k8s_prod_irule_n_ops_tag.expand = true))[0]).toMatch(/whose text AS3 would expand/);
    expect(check((s) => delete s.k8s_prod_namespace_rules.rules[0].iRule)[0]).toMatch(/must run the rule's onMatch code through an iRule/);
    expect(check((s) => (s.k8s_prod_carried_allow.rules[0].iRule = { use: 'k8s_prod_irule_c_both' }))[0]).toMatch(
      /runs the iRule .* though a carried copy/,
    );
    // With a bandwidth limit the user code must follow our block, and the block must attach the rule's policy.
    const withoutBlock = (s: any) => (s.k8s_prod_irule_c_both.iRule = b64(TAG));
    expect(check(withoutBlock)[0]).toMatch(/runs \/Common\/Shared\/k8s_prod_irule_c_both, which attaches no Bandwidth_Control_Policy/);
    const blockOfOther = (s: any) => (s.k8s_prod_irule_c_both.iRule = b64(onMatchIRuleText(TAG, 'k8s_prod_bwc_n_ops_tag')));
    expect(check(blockOfOther)[0]).toMatch(/runs \/Common\/Shared\/k8s_prod_irule_c_both, which attaches/);
    expect(check((s) => (s.k8s_prod_bwc_c_both.maxBandwidth = 50))[0]).toMatch(/which limits to 50 Mbps where the rule says 5 Mbps/);
  });
});
