/**
 * Hostile and broken input to every file and flag the tool reads: each is bad input (exit code
 * 2) reported as one line naming the file or value and the fix, never a stack trace; and text
 * from the input reaches the terminal with its control characters escaped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { buildPayments } from '../../examples/payments/main';
import { parseTime } from '../../lib/analysis/engine';
import { UsageError } from '../../lib/files/usage-error';
import { RunResult, STATE_YAML, cli, synthInto, write } from './support';

let payments: string;

beforeAll(() => {
  payments = synthInto(buildPayments);
});

/** Anything a terminal would act on or hide, other than the line feeds ending lines. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u;

function expectBadInput(r: RunResult, names: string, fix: RegExp): void {
  expect(r.stderr).not.toMatch(/internal error|\n\s+at |TypeError|RangeError|ReferenceError/);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^cdktf-ces( [a-z]+)?: \S/);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.slice(0, -1)).not.toContain('\n');
  expect(r.stderr).not.toMatch(RAW_CONTROL);
  expect(r.stderr).toContain(names);
  expect(r.stderr).toMatch(/\(got .+\); \S/);
  expect(r.stderr).toMatch(fix);
}

const BILLION_LAUGHS = [
  'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`),
].join('\n');

/** YAML that no reader may take in, whatever it expects. */
const YAML_CLASSES: readonly { name: string; content: string | Buffer | 'sparse'; fix: RegExp }[] = [
  { name: 'billion laughs', content: BILLION_LAUGHS, fix: /grows by more than 10000 values .*; write the values out/ },
  {
    name: '101 aliases',
    content: `a: &a x\nb: [${Array(101).fill('*a').join(', ')}]\n`,
    fix: /more than 100 aliases \(got \*a\); write the values out/,
  },
  { name: 'alias in its own anchor', content: 'a: &a [x, *a]\n', fix: /a cycle\) \(got \*a\); .*move \*a out of &a/ },
  { name: 'alias to no anchor', content: 'kind: Pod\nmetadata: *nope\n', fix: /alias to no anchor .*\(got \*nope\); define &nope/ },
  {
    name: 'nesting deeper than the parser guard',
    content: `${'['.repeat(20000)}${']'.repeat(20000)}`,
    fix: /more than 64 levels deep .*check that this is the file you meant/,
  },
  {
    name: 'nesting of 65 block mappings',
    content: `${Array.from({ length: 65 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`,
    fix: /more than 64 levels deep \(got 65 levels\)/,
  },
  { name: 'a file over 16 MiB', content: 'sparse', fix: /larger than 16\.0 MiB .*the tool reads files of at most 16\.0 MiB/ },
  {
    name: 'a byte that is not UTF-8',
    content: Buffer.concat([Buffer.from('kind: Pod\nmetadata: {name: "'), Buffer.from([0xff]), Buffer.from('"}\n')]),
    fix: /:2: .*is not UTF-8 text \(got byte 0xff at offset 28\); check that \S+ is the file you meant: it must be text, saved as UTF-8$/m,
  },
  {
    name: 'an overlong UTF-8 form',
    content: Buffer.from([0x61, 0x3a, 0x20, 0xc0, 0xaf, 0x0a]),
    fix: /not UTF-8 text \(got byte 0xc0 at offset 3\)/,
  },
  {
    name: 'a UTF-8-encoded surrogate',
    content: Buffer.from([0x61, 0x3a, 0x20, 0xed, 0xa0, 0x80, 0x0a]),
    fix: /not UTF-8 text \(got byte 0xed at offset 3\)/,
  },
  {
    name: 'UTF-16 (PowerShell)',
    content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('kind: Pod\n', 'utf16le')]),
    fix: /Out-File -Encoding utf8/,
  },
  {
    name: 'a duplicate key',
    content: 'kind: Pod\nmetadata: {name: a}\nkind: Namespace\n',
    fix: /:3:? document 1:? has a key twice in one mapping \(got "kind"\); keep one/,
  },
  {
    name: 'a tag',
    content: 'kind: !!binary UG9k\n',
    fix: /tag outside the YAML core schema \(got "tag:yaml.org,2002:binary"\); write the value without the tag/,
  },
  { name: 'a mapping as a key', content: '? [kind]\n: Pod\n', fix: /key that is not a plain value \(got a list\); write text keys/ },
  { name: 'a syntax error', content: 'kind: [Pod\n', fix: /is not valid YAML \(got ".+"\); fix the YAML syntax/ },
];

type Reader = 'import' | 'simulate' | 'state' | 'kubeconfig';
const READERS: readonly Reader[] = ['import', 'simulate', 'state', 'kubeconfig'];

function argv(reader: Reader, file: string): string[] {
  const explain = ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443'];
  switch (reader) {
    case 'import':
      return ['import', file];
    case 'simulate':
      return ['simulate', file];
    case 'state':
      return [...explain, '--state', file];
    case 'kubeconfig':
      return [...explain, '--kubeconfig', file];
  }
}

/** Documents of the wrong shape: each reader says what it expected instead. */
const SHAPE_CLASSES: readonly { name: string; content: string; fix: Readonly<Record<Reader, RegExp>> }[] = [
  {
    name: 'a string at the top level',
    content: '"just text"\n',
    fix: {
      import: /is not a Kubernetes object \(got "just text"\); write a CES object/,
      simulate: /holds no flows \(got "just text"\); write a YAML list/,
      state: /is not a Kubernetes object .*\(got "just text"\); the state holds Pods/,
      kubeconfig: /not a kubeconfig .*check the path/,
    },
  },
  {
    name: 'a number at the top level',
    content: '42\n',
    fix: {
      import: /\(got 42\); write a CES object/,
      simulate: /holds no flows \(got 42\)/,
      state: /\(got 42\); the state holds Pods/,
      kubeconfig: /not a kubeconfig/,
    },
  },
  {
    name: 'null at the top level',
    content: 'null\n',
    fix: {
      import: /holds no CES objects .*; export them with/,
      simulate: /holds no flows \(got null\)/,
      state: /holds no Kubernetes objects \(got 1 empty document\); write it with "kubectl get/,
      kubeconfig: /not a kubeconfig/,
    },
  },
  {
    name: 'a list where a mapping is expected',
    content: '[1, 2]\n',
    fix: {
      import: /is not a Kubernetes object \(got \[1,2\]\)/,
      simulate: /row 1 is not a mapping \(got 1\); write each row as/,
      state: /is not a Kubernetes object .*\(got \[1,2\]\)/,
      kubeconfig: /not a kubeconfig/,
    },
  },
  {
    name: 'a mapping that is not a Kubernetes object',
    content: 'foo: bar\n',
    fix: {
      import: /kind: is not a CES kind .*\(got nothing\); write one of ClusterEgressRule/,
      simulate: /holds no flows \(got \{"foo":"bar"\}\)/,
      state: /it has no kind \(got nothing\); the state holds Pods/,
      kubeconfig: /current-context/,
    },
  },
  {
    name: 'a Kubernetes object of another kind',
    content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n',
    fix: {
      import: /is not a CES kind the import reads \(got "ConfigMap"\); .*other objects do not belong/,
      simulate: /holds no flows/,
      state: /unsupported kind \(got "ConfigMap"\); the state holds Pods/,
      kubeconfig: /current-context/,
    },
  },
  {
    name: 'a List without items',
    content: 'apiVersion: v1\nkind: List\nitems: {}\n',
    fix: {
      import: /a List needs an items array \(got \{\}\)/,
      simulate: /holds no flows/,
      state: /is a List without an items list \(got \{\}\)/,
      kubeconfig: /current-context/,
    },
  },
];

function place(dir: string, file: string, content: string | Buffer | 'sparse'): void {
  const full = path.join(dir, file);
  if (content === 'sparse') {
    fs.writeFileSync(full, '');
    fs.truncateSync(full, 17 * 1024 * 1024);
  } else {
    fs.writeFileSync(full, content);
  }
}

const yamlCases = YAML_CLASSES.flatMap((c) => READERS.map((reader) => [c.name, reader, c] as const));
const shapeCases = SHAPE_CLASSES.flatMap((c) => READERS.map((reader) => [c.name, reader, c] as const));

describe('hostile YAML: exit 2, one line naming the file and the fix', () => {
  test.each(yamlCases)('%s, read by %s', async (name, reader, c) => {
    const file = `${reader}-${name.replace(/\W+/g, '-')}.yaml`;
    place(payments, file, c.content);
    expectBadInput(await cli(payments, ...argv(reader, file)), file, c.fix);
  });

  test.each(shapeCases)('%s, read by %s', async (name, reader, c) => {
    const file = `${reader}-${name.replace(/\W+/g, '-')}.yaml`;
    place(payments, file, c.content);
    expectBadInput(await cli(payments, ...argv(reader, file)), file, c.fix[reader]);
  });

  test('over 3,000,000 YAML tokens in 3 MiB (read by one reader: the count takes seconds)', async () => {
    place(payments, 'tokens.yaml', `[${','.repeat(3_000_001)}]`);
    expectBadInput(
      await cli(payments, ...argv('state', 'tokens.yaml')),
      'tokens.yaml',
      /:1: the YAML has more than 3,000,000 tokens \(got 2\.9 MiB of text\); the tool reads at most that many; .*--kubeconfig/,
    );
  });

  test('the same hostile state file for diff', async () => {
    place(payments, 'diff-bomb.yaml', BILLION_LAUGHS);
    expectBadInput(
      await cli(payments, 'diff', 'cdktf.out', 'cdktf.out', '--state', 'diff-bomb.yaml'),
      'diff-bomb.yaml',
      /write the values out/,
    );
  });

  test.each([
    ['a directory', 'cdktf.out', /it is a directory/],
    ['a device without end (/dev/zero)', '/dev/zero', /larger than 16\.0 MiB \(got "\/dev\/zero", more than 16\.0 MiB\)/],
    ['a missing file', 'missing.yaml', /it does not exist; write it with "kubectl get pods,namespaces,services -A -o yaml > missing.yaml"/],
  ])('a --state that is %s', async (_what, file, fix) => {
    expectBadInput(await cli(payments, ...argv('state', file)), file, fix);
  });
});

describe('a damaged synth output: exit 2, one line naming the file and "run cdktf synth again"', () => {
  const STACK = path.join('cdktf.out', 'stacks', 'payments');
  const ARTIFACT = path.join(STACK, 'cdktf-ces', 'k8s_payments_prod.json');
  const TERRAFORM = path.join(STACK, 'cdk.tf.json');
  type Json = Record<string, unknown>;
  const edit = (file: string, change: (j: Json) => unknown) => (dir: string) =>
    fs.writeFileSync(path.join(dir, file), JSON.stringify(change(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Json)));
  const replace = (file: string, text: string | Buffer) => (dir: string) => fs.writeFileSync(path.join(dir, file), text);
  const resources = (j: Json) => j.resource as Record<string, Record<string, Json>>;

  test.each([
    ['an artifact that is not JSON', ARTIFACT, replace(ARTIFACT, '{"format": '), /is not valid JSON \(got ".+"\); run "cdktf synth" again/],
    [
      'an artifact that is a list',
      ARTIFACT,
      replace(ARTIFACT, '[]'),
      /not a policy artifact this version reads: the file is not a mapping \(got \[\]\)/,
    ],
    [
      'an artifact of another format',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, format: 'cdktf-ces.dev/policy-artifact/v0' })),
      /format \(got "cdktf-ces.dev\/policy-artifact\/v0"\); expected format/,
    ],
    [
      'an artifact whose model is text',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, model: 'x' })),
      /model.device is not a mapping \(got "x"\)/,
    ],
    [
      'an artifact whose rules are a number',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, model: { ...(j.model as Json), rules: 5 } })),
      /holds a policy model this version cannot compile \(got ".+"\)/,
    ],
    [
      'an artifact whose rules hold null',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, model: { ...(j.model as Json), rules: [null] } })),
      /cannot compile/,
    ],
    [
      'an artifact with one rule fewer',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, model: { ...(j.model as Json), rules: ((j.model as Json).rules as unknown[]).slice(1) } })),
      /does not match the AS3 JSON in .*cdk\.tf\.json: its model renders another declaration/,
    ],
    [
      'an artifact with another sync plan',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, plan: { ...(j.plan as Json), lists: [] } })),
      /has a sync plan that its model does not give/,
    ],
    [
      'an artifact naming a shared stack outside the output',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, sharedContext: { stack: '../../..', name: 'x' } })),
      /sharedContext does not name a stack of this output .*\(got \{"stack":"..\/..\/..","name":"x"\}\)/,
    ],
    [
      'an artifact of another tenant',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({
        ...j,
        model: { ...(j.model as Json), device: { ...((j.model as Json).device as Json), tenant: 'other' } },
      })),
      /model.device.tenant is not "k8s_payments_prod", the name of the file \(got "other"\)/,
    ],
    [
      'an artifact whose digest is a number',
      ARTIFACT,
      edit(ARTIFACT, (j) => ({ ...j, as3Sha256: 5 })),
      /as3Sha256 is not a SHA-256 digest \(got 5\)/,
    ],
    ['a cdk.tf.json that is not JSON', TERRAFORM, replace(TERRAFORM, 'garbage'), /is not valid JSON/],
    [
      'a cdk.tf.json that is not UTF-8',
      TERRAFORM,
      replace(TERRAFORM, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])),
      /is not UTF-8 text \(got byte 0xc3 at offset 1\); cdktf writes UTF-8/,
    ],
    [
      'a cdk.tf.json that is a list',
      TERRAFORM,
      replace(TERRAFORM, '[1]'),
      /not a Terraform JSON configuration as cdktf writes it: the file is not a mapping \(got \[1\]\)/,
    ],
    [
      'a cdk.tf.json whose resources are a list',
      TERRAFORM,
      edit(TERRAFORM, (j) => ({ ...j, resource: [] })),
      /"resource" is not a mapping \(got \[\]\)/,
    ],
    [
      'a cdk.tf.json with a null bigip_as3 resource',
      TERRAFORM,
      edit(TERRAFORM, (j) => ({ ...j, resource: { ...resources(j), bigip_as3: { x: null } } })),
      /resource.bigip_as3.x is not a mapping \(got null\)/,
    ],
    [
      'a cdk.tf.json with commands that are not text',
      TERRAFORM,
      edit(TERRAFORM, (j) => ({ ...j, resource: { ...resources(j), bigip_command: { c: { commands: [1] } } } })),
      /resource.bigip_command.c.commands is not a list of text \(got \[1\]\)/,
    ],
    [
      'a cdk.tf.json nested 100,000 deep',
      TERRAFORM,
      replace(TERRAFORM, `${'['.repeat(100000)}${']'.repeat(100000)}`),
      /nests deeper than 64 levels/,
    ],
  ])('%s', async (_what, file, damage, fix) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-damaged-'));
    fs.cpSync(path.join(payments, 'cdktf.out'), path.join(dir, 'cdktf.out'), { recursive: true });
    damage(dir);
    expectBadInput(await cli(dir, 'explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443'), file, fix);
  });
});

describe('hostile flags: exit 2, one line quoting the value and the fix', () => {
  const explain = ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443'];
  test.each([
    ['--resolve without a name', [...explain, '--resolve', '=203.0.113.10'], '"=203.0.113.10"', /write it as name=ip\[,ip\]/],
    [
      '--resolve without an address',
      [...explain, '--resolve', 'api.stripe.com='],
      '"api.stripe.com="',
      /write addresses like 203.0.113.10/,
    ],
    [
      '--resolve with a terminal escape',
      [...explain, '--resolve', 'api.stripe.com=203.0.113.10\x1b[2J'],
      '"203.0.113.10\\u001b[2J"',
      /write addresses like/,
    ],
    [
      '--resolve with a right-to-left override',
      [...explain, '--resolve', 'api\u202e.com=203.0.113.10'],
      '"api\\u202e.com"',
      /write a name such as "api.example.com"/,
    ],
    ['--resolve of 100,000 characters', [...explain, '--resolve', `${'a'.repeat(100000)}=203.0.113.10`], '"aaaa', /write a name such as/],
    [
      '--from with a C1 control',
      ['explain', '--from', 'payments/check\u009bout', '--to', 'a.com:443'],
      '"payments/check\\u009bout"',
      /write <namespace>\/<pod-or-service>/,
    ],
    [
      '--to with a bell',
      ['explain', '--from', 'payments/checkout', '--to', 'a.com\x07:443'],
      '"a.com\\u0007:443"',
      /host name .* or an IP address/,
    ],
    ['--at with a carriage return', [...explain, '--at', '2026-01-01\rT00:00:00Z'], '"2026-01-01\\rT00:00:00Z"', /write an ISO 8601 time/],
    [
      '--labels with a zero-width space',
      [...explain, '--labels', 'app=web\u200b'],
      '"app=web\\u200b"',
      /write Kubernetes labels as key=value/,
    ],
    ['--device with an escape', [...explain, '--device', 'x\x1b[2J'], '"x\\u001b[2J"', /use one of: payments\/k8s_payments_prod/],
    ['--out naming a file', [...explain, '--out', 'package.json'], '"package.json"', /point --out at the output directory/],
    ['--context without --kubeconfig', [...explain, '--context', 'prod\u2066'], '"prod\\u2066"', /add --kubeconfig/],
    ['graph --format', ['graph', '--format', 'svg\x1b]0;owned\x07'], '"svg\\u001b]0;owned\\u0007"', /use one of mermaid, dot, svg/],
    ['import --cluster', ['import', 'x.yaml', '--cluster', 'Prod\x1b[2J'], '"Prod\\u001b[2J"', /a DNS label of at most 40 characters/],
    ['import --namespace', ['import', 'x.yaml', '--namespace', '\u202epayments'], '"\\u202epayments"', /write a namespace name/],
    ['import --library', ['import', 'x.yaml', '--library', "x'; process.exit()"], `"x'; process.exit()"`, /write a module specifier/],
    ['an unknown command', ['expl\x1b[2Jain'], '"expl\\u001b[2Jain"', /run "cdktf-ces --help"/],
    ['an unknown option', ['explain', '--frm\x1b[2J', 'x'], '"--frm\\u001b[2J"', /run "cdktf-ces explain --help"/],
  ])('%s', async (_what, args, shown, fix) => {
    fs.writeFileSync(path.join(payments, 'package.json'), '{}');
    expectBadInput(await cli(payments, ...(args as string[])), shown, fix);
  });
});

describe('values that look right but name nothing: exit 2, one line with the fix', () => {
  const explain = ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443'];
  const noSuchDay = /has no day \d\d: use a day from 01 to (28|29|30|31)$/m;
  test.each([
    [
      '--to of dotted numbers above 255',
      ['explain', '--from', 'payments/checkout', '--to', '999.999.999.999:443'],
      '"999.999.999.999:443"',
      /dotted numbers are an IPv4 address, and this is none: write four numbers from 0 to 255/,
    ],
    [
      '--to 256.1.1.1',
      ['explain', '--from', 'payments/checkout', '--to', '256.1.1.1:443'],
      '"256.1.1.1:443"',
      /dotted numbers are an IPv4 address/,
    ],
    [
      '--resolve for dotted numbers',
      [...explain, '--resolve', '10.0.0.999=203.0.113.10'],
      '"10.0.0.999"',
      /dotted numbers are no DNS name .*write the host name the answer is for/,
    ],
    ['explain --at February 30', [...explain, '--at', '2026-02-30T10:00:00Z'], '"2026-02-30T10:00:00Z"', noSuchDay],
    [
      'explain --at February 29 of 2026',
      [...explain, '--at', '2026-02-29T10:00:00Z'],
      '"2026-02-29T10:00:00Z"',
      /2026-02 has no day 29: use a day from 01 to 28/,
    ],
    [
      'explain --at April 31',
      [...explain, '--at', '2026-04-31T10:00:00+02:00'],
      '"2026-04-31T10:00:00+02:00"',
      /2026-04 has no day 31: use a day from 01 to 30/,
    ],
    ['simulate --at February 30', ['simulate', 'flows-ok.yaml', '--at', '2026-02-30T10:00:00Z'], '"2026-02-30T10:00:00Z"', noSuchDay],
    ['a flows row at February 30', ['simulate', 'flows-feb-30.yaml'], '"2026-02-30T10:00:00Z"', noSuchDay],
    ['diff --at February 30', ['diff', 'cdktf.out', 'cdktf.out', '--at', '2026-02-30T10:00:00Z'], '"2026-02-30T10:00:00Z"', noSuchDay],
    [
      'a flows file with anchors beside "flows"',
      ['simulate', 'flows-merge.yaml'],
      '"base"',
      /remove it: the file is a list of flows, or a mapping with the one field "flows" \(YAML merge keys "<<" are not read either/,
    ],
    [
      'a flows row with a merge key',
      ['simulate', 'flows-merge-row.yaml'],
      '"<<"',
      /a YAML merge key \(got "<<"\); merge keys are not read \(YAML 1.2 has none\): write the fields of the row out/,
    ],
  ])('%s', async (_what, args, shown, fix) => {
    write(payments, 'flows-ok.yaml', '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow}\n');
    write(
      payments,
      'flows-feb-30.yaml',
      '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, at: "2026-02-30T10:00:00Z"}\n',
    );
    write(payments, 'flows-merge.yaml', 'base: &b {from: payments/checkout}\nflows: [{<<: *b, to: "api.stripe.com:443", expect: allow}]\n');
    write(
      payments,
      'flows-merge-row.yaml',
      '- &b {from: payments/checkout, to: "api.stripe.com:443", expect: allow}\n- {<<: *b, expect: deny}\n',
    );
    expectBadInput(await cli(payments, ...(args as string[])), shown, fix);
  });

  test('an --at time is taken when, and only when, its date exists', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1970, max: 2200 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 23 }),
        (year, month, day, hour) => {
          const text = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:30:00Z`;
          const exists = day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
          if (exists) expect(parseTime(text).toISOString()).toBe(text.replace('Z', '.000Z'));
          else expect(() => parseTime(text)).toThrow(UsageError);
        },
      ),
    );
  });
});

describe('text from the input reaches the terminal escaped', () => {
  const PAYLOAD = '\x1b[2J\x1b]0;owned\x07\r\u0085\u202e\u2066\u200b\ufeff';
  const ESCAPED = '\\u001b[2J\\u001b]0;owned\\u0007\\r\\u0085\\u202e\\u2066\\u200b\\ufeff';

  test('an unknown spec key of a CES manifest, printed as a note', async () => {
    write(
      payments,
      'unknown-key.yaml',
      `apiVersion: kubeovn.io/v1alpha1\nkind: ExternalService\nmetadata: {name: stripe, namespace: payments}\nspec:\n  addresses: [192.0.2.10]\n  ${JSON.stringify(`x${PAYLOAD}`)}: 1\n`,
    );
    const r = await cli(payments, 'import', 'unknown-key.yaml', '--allow-partial');
    expect(r.code).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toContain(
      `note: unknown-key.yaml:1 ExternalService payments/stripe spec.x${ESCAPED} (set): is not a field of the CES CRD`,
    );
  });

  test('a pod phase from the state file, in the explain report', async () => {
    const state = STATE_YAML.replace(
      'phase: Running\n    podIP: 10.244.3.17',
      `phase: ${JSON.stringify(`Running${PAYLOAD}`)}\n    podIP: 10.244.3.17`,
    );
    write(payments, 'escape-state.yaml', state);
    const r = await cli(
      payments,
      'explain',
      '--from',
      'payments/checkout-7d9f-abcde',
      '--to',
      'api.stripe.com:443',
      '--state',
      'escape-state.yaml',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain(`from:        pod payments/checkout-7d9f-abcde (10.244.3.17, fd00:10:244::3:17; Running${ESCAPED})`);
  });

  test('a namespace name from the state file, in an error listing the known ones', async () => {
    write(payments, 'escape-ns.yaml', `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${JSON.stringify(`evil${PAYLOAD}`)}}\n`);
    const r = await cli(payments, 'explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', '--state', 'escape-ns.yaml');
    expectBadInput(r, `known namespaces: evil${ESCAPED}`, /known namespaces/);
  });

  test('a YAML error message quoting the input', async () => {
    write(payments, 'escape-syntax.yaml', `kind: Pod\nmetadata: {name: x}\n${JSON.stringify(PAYLOAD)}: [\n`);
    expectBadInput(await cli(payments, 'simulate', 'escape-syntax.yaml'), 'escape-syntax.yaml', /fix the YAML syntax/);
  });

  test('the JSON output stays JSON with the same text', async () => {
    const state = STATE_YAML.replace(
      'phase: Running\n    podIP: 10.244.3.17',
      `phase: ${JSON.stringify(`Running\u202e\u0085`)}\n    podIP: 10.244.3.17`,
    );
    write(payments, 'escape-json.yaml', state);
    const r = await cli(
      payments,
      'explain',
      '--from',
      'payments/checkout-7d9f-abcde',
      '--to',
      'api.stripe.com:443',
      '--state',
      'escape-json.yaml',
      '--json',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(r.stdout).source.description).toContain('Running\u202e\u0085');
  });
});

describe('random input never breaks the tool', () => {
  /** Pieces of YAML, to reach the parser's and the readers' deeper paths more often than random bytes. */
  const PIECES = [
    'a:',
    'kind:',
    ' Pod',
    ' List',
    'items:',
    'metadata:',
    ' name:',
    ' {',
    '}',
    ' [',
    ']',
    ', ',
    '- ',
    '\n',
    '  ',
    '&a ',
    '*a',
    '&b ',
    '*b',
    '!!str ',
    '!x ',
    '? ',
    '"',
    "'",
    '#',
    '|',
    '>',
    '---\n',
    '...\n',
    '%YAML 1.1\n',
    '\t',
    '\x1b[2J',
    '\u202e',
    '\u0000',
    '<<: ',
    '10.244.0.1',
    'from: payments/checkout',
    'expect: allow',
    'apiVersion: kubeovn.io/v1alpha1',
    'ExternalService',
    'spec:',
    'addresses:',
  ];
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.array(fc.constantFrom(...PIECES), { maxLength: 80 }).map((p) => p.join('')),
  );

  test('no exit code 3, no exception, no raw control character on the terminal', async () => {
    await fc.assert(
      fc.asyncProperty(input, fc.constantFrom(...READERS), async (content, reader) => {
        fs.writeFileSync(path.join(payments, 'random.yaml'), content);
        const r = await cli(payments, ...argv(reader, 'random.yaml'));
        expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
        expect([0, 1, 2]).toContain(r.code);
        expect(`${r.stdout}${r.stderr}`).not.toMatch(RAW_CONTROL);
        if (r.code === 2 && reader !== 'import') expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('an -o file that cannot be written: exit 2, one line, nothing half-done', () => {
  test.each([
    ['graph', ['graph', '-o', 'cdktf.out']],
    ['import', ['import', 'ces.yaml', '-o', 'cdktf.out']],
  ])('%s -o <a directory>', async (_command, args) => {
    write(
      payments,
      'ces.yaml',
      'apiVersion: kubeovn.io/v1alpha1\nkind: ExternalService\nmetadata: {name: stripe, namespace: payments}\nspec: {addresses: [192.0.2.10]}\n',
    );
    expectBadInput(
      await cli(payments, ...args),
      '"cdktf.out"',
      /cannot write the -o file \(got "cdktf.out"\); it is a directory; write elsewhere/,
    );
  });
});
