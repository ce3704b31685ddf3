'use strict';
/**
 * Hostile input to the `cdktf-ces` tool: YAML bombs, cyclic and dangling aliases, deep nesting,
 * wrong top-level types, binary garbage and hostile option values for every command (import,
 * simulate, explain, graph, diff) and the shared inputs (--state, --resolve, --device, --out).
 *
 * Bad input must exit 2 with clean lines that quote the value and say how to fix it; never exit
 * 3 or print a stack trace. Legal input must exit 0 (or 1 where a check legitimately fails).
 */
const fs = require('node:fs');
const path = require('node:path');

/** Deterministic bytes for "binary garbage" (xorshift32). */
function garbage(n, seed) {
  let x = seed >>> 0 || 1;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function billionLaughs() {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) {
    const name = String.fromCharCode(97 + i);
    const prev = String.fromCharCode(96 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  return lines.join('\n');
}

/** YAML documents that attack the parser or the reader. */
const HOSTILE_YAML = [
  ['billion-laughs', billionLaughs(), 'cli-yaml-bomb'],
  ['cyclic-alias-list', 'a: &a [*a]\n', 'cli-yaml-bomb'],
  ['cyclic-alias-map', '&a {x: *a}\n', 'cli-yaml-bomb'],
  ['cyclic-alias-self-list', '&a [*a]\n', 'cli-yaml-bomb'],
  ['dangling-alias', 'a: *nope\n', 'cli-yaml-bomb'],
  ['deep-flow-list', `${'['.repeat(20000)}${']'.repeat(20000)}\n`, 'cli-yaml-bomb'],
  ['deep-flow-map', `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`, 'cli-yaml-bomb'],
  ['deep-block-map', `${Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`, 'cli-yaml-bomb'],
  ['binary-garbage', garbage(4096, 7), 'cli-garbage'],
  ['binary-garbage-2', garbage(777, 99), 'cli-garbage'],
  ['invalid-utf8', Buffer.from([0xff, 0xfe, 0xfd, 0x0a, 0xc3, 0x28, 0x0a]), 'cli-garbage'],
  ['nul-bytes', Buffer.from('a: b\u0000c\nd: \u0000\n'), 'cli-garbage'],
  ['terminal-escapes', '\u001b[2J\u001b[31mred: \u001b[0m\n', 'cli-garbage'],
  ['scalar-number', '42\n', 'cli-wrong-type'],
  ['scalar-string', '"just a string"\n', 'cli-wrong-type'],
  ['scalar-true', 'true\n', 'cli-wrong-type'],
  ['null-document', 'null\n', 'cli-wrong-type'],
  ['empty-file', '', 'cli-wrong-type'],
  ['only-comment', '# nothing\n', 'cli-wrong-type'],
  ['empty-documents', '---\n---\n', 'cli-wrong-type'],
  ['list-of-scalars', '- 1\n- two\n- null\n', 'cli-wrong-type'],
  ['empty-map', '{}\n', 'cli-wrong-type'],
  ['unknown-tag', '!evil {a: 1}\n', 'cli-wrong-type'],
  ['binary-tag', 'a: !!binary aGVsbG8=\n', 'cli-wrong-type'],
  ['duplicate-keys', 'a: 1\na: 2\n', 'cli-wrong-type'],
];

function cliCases(add) {
  const write = (cli, name, content) => {
    fs.writeFileSync(path.join(cli.dir, name), content);
    return cli.dir;
  };
  const cliCase = (category, id, expect, argv, extra = {}) =>
    add({ id: `cli.${id}`, category, target: 'cli', expect, argv, kind: 'cli', ...extra });
  const withFile = (name, content) => (cli) => write(cli, name, content);

  // ---- Commands and options in general.
  cliCase('cli-options', 'unknown-command', 'reject', ['frobnicate'], { oneLine: true });
  cliCase('cli-options', 'unknown-command-terminal-escape', 'reject', ['\u001b[2J\u001b[31mexplain'], { oneLine: true });
  cliCase('cli-options', 'unknown-command-nul', 'reject', ['explain\u0000'], { oneLine: true });
  cliCase('cli-options', 'unknown-option', 'reject', ['explain', '--evil'], { oneLine: true });
  cliCase('cli-options', 'unknown-option-escape', 'reject', ['explain', '--\u001b[31m=x'], { oneLine: true });
  cliCase('cli-options', 'string-option-without-value', 'reject', ['explain', '--from'], { oneLine: true });
  cliCase(
    'cli-options',
    'boolean-option-with-value',
    'reject',
    ['explain', '--json=yes', '--from', 'payments/checkout', '--to', '10.96.0.10:53/udp'],
    { oneLine: true },
  );
  cliCase('cli-options', 'extra-positional', 'reject', ['explain', 'extra'], { oneLine: true });
  cliCase('cli-options', 'help', 'accept', ['explain', '--help'], {
    verify: (r) => (r.stdout.includes('usage: cdktf-ces explain') ? [] : ['no usage text']),
  });

  // ---- explain
  const explain = (...rest) => ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', ...rest];
  const verdict = (text) => (r) => (r.stdout.includes(text) ? [] : [`no "${text}" in the output`]);
  cliCase('cli-legal', 'explain-fqdn', 'accept', explain('--resolve', 'api.stripe.com=203.0.113.10'), {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase('cli-legal', 'explain-unresolved', 'accept', explain(), { verify: verdict('verdict: ALLOW') });
  cliCase('cli-legal', 'explain-dns-udp', 'accept', ['explain', '--from', 'payments/comments', '--to', '10.96.0.10:53/udp'], {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase('cli-legal', 'explain-ipv6', 'accept', ['explain', '--from', 'payments/web', '--to', '[2001:db8::10]:443'], {
    verify: verdict('verdict: DENY'),
  });
  cliCase('cli-legal', 'explain-range', 'accept', ['explain', '--from', 'payments/web', '--to', '198.51.100.15:22'], {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase('cli-legal', 'explain-icmp', 'accept', ['explain', '--from', 'payments/web', '--to', '198.51.100.15/icmp'], {
    verify: verdict('verdict:'),
  });
  cliCase('cli-legal', 'explain-offset-time', 'accept', explain('--at', '2026-03-02T10:00:00+14:00'), {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase(
    'cli-legal',
    'explain-labels',
    'accept',
    ['explain', '--from', 'payments/web', '--to', '198.51.100.15:22', '--labels', 'app=web,tier=front,constructor=x'],
    { verify: verdict('verdict: ALLOW') },
  );
  cliCase('cli-legal', 'explain-json', 'accept', explain('--json'), {
    verify: (r) => {
      try {
        JSON.parse(r.stdout);
        return [];
      } catch (e) {
        return [`--json output is not JSON: ${e.message}`];
      }
    },
  });
  cliCase('cli-legal', 'explain-upper-case-host', 'accept', ['explain', '--from', 'payments/checkout', '--to', 'API.Stripe.com:443'], {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase('cli-legal', 'explain-device-tenant', 'accept', explain('--device', 'k8s_prod'), { verify: verdict('verdict: ALLOW') });
  cliCase('cli-legal', 'explain-device-stack-tenant', 'accept', explain('--device', 'egress/k8s_prod'), {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase('cli-legal', 'explain-resolve-upper-case', 'accept', explain('--resolve', 'API.STRIPE.COM=203.0.113.10'), {
    verify: verdict('verdict: ALLOW'),
  });
  cliCase('cli-legal', 'explain-resolve-constructor', 'accept', explain('--resolve', 'constructor=203.0.113.10'), {
    verify: verdict('verdict: ALLOW'),
  });
  const fromValues = [
    ['no-slash', 'payments'],
    ['empty', ''],
    ['leading-slash', '/checkout'],
    ['upper-case', 'Payments/checkout'],
    ['two-slashes', 'payments/a/b'],
    ['terminal-escape', 'pay\u001b[31mments/checkout'],
    ['newline', 'payments/checkout\nx'],
    ['interpolation', '${var.x}/checkout'],
    ['cyrillic', 'pаyments/checkout'],
    ['very-long', `payments/${'a'.repeat(100000)}`],
  ];
  for (const [label, from] of fromValues)
    cliCase(
      label === 'terminal-escape' || label === 'newline' || label === 'interpolation' ? 'cli-injection' : 'cli-options',
      `explain-from-${label}`,
      'reject',
      ['explain', '--from', from, '--to', '10.96.0.10:53/udp'],
      { oneLine: true, mention: '--from' },
    );
  const toValues = [
    ['empty', '', 'cli-options'],
    ['host-only', 'api.stripe.com', 'cli-options'],
    ['port-0', 'api.stripe.com:0', 'cli-out-of-range'],
    ['port-65536', 'api.stripe.com:65536', 'cli-out-of-range'],
    ['port-negative', 'api.stripe.com:-1', 'cli-out-of-range'],
    ['port-exponent', 'api.stripe.com:1e3', 'cli-out-of-range'],
    ['port-arabic-digits', 'api.stripe.com:٤٤٣', 'cli-unicode'],
    ['upper-protocol', 'api.stripe.com:443/TCP', 'cli-options'],
    ['any-protocol', 'api.stripe.com:443/any', 'cli-options'],
    ['cidr', '10.0.0.0/8:443', 'cli-options'],
    ['unclosed-bracket', '[2001:db8::1:443', 'cli-options'],
    ['bracket-junk', '[2001:db8::1]x', 'cli-options'],
    ['bracketed-ipv4', '[10.0.0.1]:443', 'cli-options'],
    ['bare-ipv6', '2001:db8::1:443', 'cli-options'],
    ['fullwidth-host', 'ＡＰＩ.example.com:443', 'cli-unicode'],
    ['cyrillic-host', 'аpi.stripe.com:443', 'cli-unicode'],
    ['newline', 'api.stripe.com:443\n', 'cli-injection'],
    ['interpolation', '${var.x}:443', 'cli-injection'],
    ['terminal-escape', '\u001b[2Japi.stripe.com:443', 'cli-injection'],
    ['impossible-ipv4', '999.999.999.999:443', 'cli-impossible'],
    ['impossible-ipv4-256', '256.1.1.1:443', 'cli-impossible'],
    ['icmp-with-port', '10.0.0.1:8/icmp', 'cli-options'],
  ];
  for (const [label, to, category] of toValues) {
    // A trailing newline of a shell argument may be trimmed or refused.
    cliCase(
      category,
      `explain-to-${label}`,
      label === 'newline' ? 'either' : 'reject',
      ['explain', '--from', 'payments/checkout', '--to', to],
      {
        oneLine: true,
        mention: '--to',
        why: label.startsWith('impossible') ? `${to.split(':')[0]} is no address, yet it was taken as a host name` : undefined,
      },
    );
  }
  const atValues = [
    ['words', 'now', 'cli-options'],
    ['feb-30', '2026-02-30T10:00:00Z', 'cli-impossible'],
    ['feb-29-non-leap', '2026-02-29T10:00:00Z', 'cli-impossible'],
    ['apr-31', '2026-04-31T10:00:00Z', 'cli-impossible'],
    ['month-13', '2026-13-01T10:00:00Z', 'cli-impossible'],
    ['hour-25', '2026-03-02T25:00:00Z', 'cli-impossible'],
    ['no-zone', '2026-03-02T10:00:00', 'cli-options'],
    ['empty', '', 'cli-options'],
    ['newline', '2026-03-02T10:00:00Z\n', 'cli-injection'],
  ];
  for (const [label, at, category] of atValues) {
    cliCase(category, `explain-at-${label}`, 'reject', explain('--at', at), {
      oneLine: true,
      mention: '--at',
      why: category === 'cli-impossible' ? `${at} does not exist and was rolled over to another day` : undefined,
    });
  }
  const labelValues = [
    ['no-equals', 'app'],
    ['empty-key', '=x'],
    ['double-comma', 'app=x,,tier=y'],
    ['interpolation', 'app=${x}'],
    ['proto-key', '__proto__=x'],
    ['terminal-escape', 'app=\u001b[31m'],
    ['value-64', `app=${'v'.repeat(64)}`],
  ];
  for (const [label, labels] of labelValues)
    cliCase(
      'cli-options',
      `explain-labels-${label}`,
      'reject',
      ['explain', '--from', 'payments/web', '--to', '198.51.100.15:22', '--labels', labels],
      { oneLine: true, mention: '--labels' },
    );
  cliCase(
    'cli-options',
    'explain-namespace-labels-bad',
    'reject',
    ['explain', '--from', 'payments/web', '--to', '198.51.100.15:22', '--namespace-labels', 'a b=c'],
    { oneLine: true },
  );
  const resolveValues = [
    ['no-equals', 'api.stripe.com'],
    ['no-name', '=203.0.113.10'],
    ['no-address', 'api.stripe.com='],
    ['impossible-address', 'api.stripe.com=999.999.999.999'],
    ['trailing-comma', 'api.stripe.com=203.0.113.10,'],
    ['zone-id', 'api.stripe.com=fe80::1%eth0'],
    ['wildcard', '*.stripe.com=203.0.113.10'],
    ['proto-name', '__proto__=203.0.113.10'],
    ['terminal-escape', 'a\u001b[31mb.com=203.0.113.10'],
    ['cidr', 'api.stripe.com=203.0.113.0/24'],
  ];
  for (const [label, resolve] of resolveValues)
    cliCase('cli-options', `explain-resolve-${label}`, 'reject', explain('--resolve', resolve), { oneLine: true, mention: '--resolve' });
  const deviceValues = [
    ['unknown', 'nope'],
    ['empty', ''],
    ['path-traversal', '../../etc/passwd'],
    ['terminal-escape', '\u001b[2Jk8s_prod'],
    ['very-long', 'k'.repeat(100000)],
    ['wrong-stack', 'other/k8s_prod'],
  ];
  for (const [label, device] of deviceValues)
    cliCase('cli-options', `explain-device-${label}`, 'reject', explain('--device', device), { oneLine: true, mention: 'device' });

  // ---- --out: missing, wrong and corrupted synth outputs.
  const corrupt = (name, mutate) => (cli) => {
    const dir = path.join(cli.dir, `out-${name}`);
    if (!fs.existsSync(dir)) {
      fs.cpSync(cli.output, dir, { recursive: true });
      mutate(dir);
    }
    return cli.dir;
  };
  const artifactFile = (dir) => path.join(dir, 'stacks', 'egress', 'cdktf-ces', 'k8s_prod.json');
  const tfFile = (dir) => path.join(dir, 'stacks', 'egress', 'cdk.tf.json');
  const sha256 = (text) => require('node:crypto').createHash('sha256').update(text).digest('hex');
  const outCases = [
    ['missing-dir', null, 'does-not-exist'],
    ['a-file', (cli) => write(cli, 'a-file.txt', 'x'), 'a-file.txt'],
    ['empty-string', null, ''],
    ['nul', null, 'cdktf\u0000.out'],
    [
      'artifact-garbage',
      corrupt('artifact-garbage', (d) => fs.writeFileSync(artifactFile(d), garbage(300, 3))),
      'out-artifact-garbage/cdktf.out',
    ],
    ['artifact-null', corrupt('artifact-null', (d) => fs.writeFileSync(artifactFile(d), 'null')), 'out-artifact-null/cdktf.out'],
    ['artifact-array', corrupt('artifact-array', (d) => fs.writeFileSync(artifactFile(d), '[]')), 'out-artifact-array/cdktf.out'],
    [
      'artifact-model-null',
      corrupt('artifact-model-null', (d) => {
        const a = JSON.parse(fs.readFileSync(artifactFile(d), 'utf8'));
        fs.writeFileSync(artifactFile(d), JSON.stringify({ ...a, model: null }));
      }),
      'out-artifact-model-null/cdktf.out',
    ],
    [
      'artifact-plan-missing',
      corrupt('artifact-plan-missing', (d) => {
        const a = JSON.parse(fs.readFileSync(artifactFile(d), 'utf8'));
        delete a.plan;
        fs.writeFileSync(artifactFile(d), JSON.stringify(a));
      }),
      'out-artifact-plan-missing/cdktf.out',
    ],
    [
      'artifact-rules-not-array',
      corrupt('artifact-rules-not-array', (d) => {
        const a = JSON.parse(fs.readFileSync(artifactFile(d), 'utf8'));
        a.model.rules = { evil: true };
        fs.writeFileSync(artifactFile(d), JSON.stringify(a));
      }),
      'out-artifact-rules-not-array/cdktf.out',
    ],
    [
      'terraform-garbage',
      corrupt('terraform-garbage', (d) => fs.writeFileSync(tfFile(d), garbage(500, 5))),
      'out-terraform-garbage/cdktf.out',
    ],
    [
      'as3-json-garbage-with-matching-digest',
      corrupt('as3-garbage', (d) => {
        const tf = JSON.parse(fs.readFileSync(tfFile(d), 'utf8'));
        const [id] = Object.keys(tf.resource.bigip_as3);
        tf.resource.bigip_as3[id].as3_json = '{not json';
        fs.writeFileSync(tfFile(d), JSON.stringify(tf));
        const a = JSON.parse(fs.readFileSync(artifactFile(d), 'utf8'));
        fs.writeFileSync(artifactFile(d), JSON.stringify({ ...a, as3Sha256: sha256('{not json') }));
      }),
      'out-as3-garbage/cdktf.out',
    ],
    [
      'as3-json-wrong-shape-with-matching-digest',
      corrupt('as3-shape', (d) => {
        const tf = JSON.parse(fs.readFileSync(tfFile(d), 'utf8'));
        const [id] = Object.keys(tf.resource.bigip_as3);
        tf.resource.bigip_as3[id].as3_json = '[1,2,3]';
        fs.writeFileSync(tfFile(d), JSON.stringify(tf));
        const a = JSON.parse(fs.readFileSync(artifactFile(d), 'utf8'));
        fs.writeFileSync(artifactFile(d), JSON.stringify({ ...a, as3Sha256: sha256('[1,2,3]') }));
      }),
      'out-as3-shape/cdktf.out',
    ],
    [
      'artifact-is-directory',
      corrupt('artifact-dir', (d) => fs.mkdirSync(path.join(d, 'stacks', 'egress', 'cdktf-ces', 'dir.json'))),
      'out-artifact-dir/cdktf.out',
    ],
  ];
  for (const [label, setup, out] of outCases) {
    const mention = out.split('/')[0].replace(/\u0000.*/, '');
    cliCase(
      'cli-out',
      `out-${label}`,
      label === 'empty-string' ? 'either' : 'reject',
      ['explain', '--from', 'payments/checkout', '--to', '10.96.0.10:53/udp', '--out', out],
      { oneLine: true, ...(mention ? { mention } : {}), ...(setup ? { setup } : {}) },
    );
    if (label.startsWith('artifact') || label.startsWith('as3'))
      cliCase('cli-out', `graph-out-${label}`, 'reject', ['graph', '--out', out], { oneLine: true, mention, ...(setup ? { setup } : {}) });
  }

  // ---- --state
  const STATE = [
    'apiVersion: v1',
    'kind: List',
    'items:',
    '- {apiVersion: v1, kind: Namespace, metadata: {name: payments}}',
    '- apiVersion: v1',
    '  kind: Pod',
    '  metadata: {name: checkout-1, namespace: payments, labels: {app: checkout}}',
    '  status: {phase: Running, podIP: 10.244.3.17, podIPs: [{ip: 10.244.3.17}]}',
    '- {apiVersion: v1, kind: Service, metadata: {name: checkout, namespace: payments}, spec: {selector: {app: checkout}}}',
    '---',
    'apiVersion: cdktf-ces.dev/v1',
    'kind: DnsAnswers',
    'answers:',
    '  api.stripe.com: [203.0.113.10]',
    '',
  ].join('\n');
  const stateCase = (category, label, expect, content, extra = {}) =>
    cliCase(
      category,
      `state-${label}`,
      expect,
      ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', '--state', `state-${label}.yaml`],
      { setup: withFile(`state-${label}.yaml`, content), mention: `state-${label}.yaml`, ...extra },
    );
  stateCase('cli-legal', 'valid', 'accept', STATE, { verify: verdict('verdict: ALLOW') });
  stateCase('cli-legal', 'bom', 'accept', `\ufeff${STATE}`, { verify: verdict('verdict: ALLOW') });
  for (const [label, content, category] of HOSTILE_YAML) stateCase(category, label, 'reject', content, { oneLine: true });
  stateCase('cli-yaml-bomb', 'cyclic-items', 'reject', 'apiVersion: v1\nkind: List\nitems: &a [*a]\n', { oneLine: true });
  stateCase('cli-yaml-bomb', 'cyclic-metadata', 'reject', 'kind: Pod\nmetadata: &m {name: x, namespace: payments, labels: *m}\n', {
    oneLine: true,
  });
  stateCase('cli-injection', 'kind-terminal-escape', 'reject', 'kind: "Pod\\e[31m"\nmetadata: {}\n', { oneLine: true });
  stateCase(
    'cli-injection',
    'name-terminal-escape',
    'reject',
    'kind: Pod\nmetadata: {name: "x\\e[2J", namespace: payments}\nstatus: {podIP: 999.1.1.1}\n',
    { oneLine: true },
  );
  stateCase(
    'cli-impossible',
    'pod-ip-impossible',
    'reject',
    'kind: Pod\nmetadata: {name: x, namespace: payments}\nstatus: {podIP: 999.999.999.999}\n',
    { oneLine: true },
  );
  stateCase(
    'cli-wrong-type',
    'pod-ips-objects',
    'reject',
    'kind: Pod\nmetadata: {name: x, namespace: payments}\nstatus: {podIPs: [{ip: {a: 1}}]}\n',
    { oneLine: true },
  );
  stateCase('cli-wrong-type', 'labels-not-strings', 'reject', 'kind: Pod\nmetadata: {name: x, namespace: payments, labels: {app: [1]}}\n', {
    oneLine: true,
  });
  stateCase('cli-wrong-type', 'unsupported-kind', 'reject', 'kind: Deployment\nmetadata: {name: x, namespace: payments}\n', {
    oneLine: true,
  });
  stateCase('cli-wrong-type', 'kind-object', 'reject', 'kind: {a: 1}\nmetadata: {name: x}\n', { oneLine: true });
  stateCase('cli-impossible', 'dns-answer-impossible', 'reject', 'kind: DnsAnswers\nanswers: {api.stripe.com: [999.1.1.1]}\n', {
    oneLine: true,
  });
  stateCase('cli-wrong-type', 'dns-answers-list', 'reject', 'kind: DnsAnswers\nanswers: [1, 2]\n', { oneLine: true });
  stateCase('cli-options', 'dns-answer-upper-case', 'reject', 'kind: DnsAnswers\nanswers: {API.stripe.com: [203.0.113.10]}\n', {
    oneLine: true,
  });
  stateCase(
    'cli-proto-key',
    'labels-proto-key',
    'either',
    'kind: Pod\nmetadata: {name: x, namespace: payments, labels: {__proto__: {app: checkout}}}\nstatus: {podIP: 10.244.0.9}\n',
    {},
  );
  cliCase('cli-options', 'state-missing-file', 'reject', explain('--state', 'no-such-state.yaml'), { oneLine: true });
  cliCase('cli-options', 'state-is-directory', 'reject', explain('--state', '.'), { oneLine: true });
  cliCase('cli-options', 'state-and-kubeconfig', 'reject', explain('--state', 'a.yaml', '--kubeconfig', 'b'), { oneLine: true });
  cliCase('cli-options', 'kubeconfig-missing', 'reject', explain('--kubeconfig', 'no-such-kubeconfig'), { oneLine: true });
  cliCase('cli-garbage', 'kubeconfig-garbage', 'reject', explain('--kubeconfig', 'kubeconfig-garbage'), {
    oneLine: true,
    setup: withFile('kubeconfig-garbage', garbage(512, 11)),
  });
  cliCase('cli-yaml-bomb', 'kubeconfig-billion-laughs', 'reject', explain('--kubeconfig', 'kubeconfig-laughs'), {
    oneLine: true,
    setup: withFile('kubeconfig-laughs', billionLaughs()),
  });

  // ---- simulate
  const FLOWS = [
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow}',
    '- {from: payments/comments, to: "10.96.0.10:53/udp", expect: allow}',
    '- {from: payments/comments, to: "api.stripe.com:443", expect: deny}',
    '',
  ].join('\n');
  const flowsCase = (category, label, expect, content, extra = {}) =>
    cliCase(category, `simulate-${label}`, expect, ['simulate', `flows-${label}.yaml`], {
      setup: withFile(`flows-${label}.yaml`, content),
      mention: `flows-${label}.yaml`,
      ...extra,
    });
  flowsCase('cli-legal', 'valid', 'accept', FLOWS, {
    verify: (r) => (r.stdout.includes('3 of 3 flows as expected') ? [] : ['not all flows as expected']),
  });
  flowsCase('cli-legal', 'mismatch-exits-1', 'accept', '- {from: payments/comments, to: "api.stripe.com:443", expect: allow}\n', {
    acceptCodes: [1],
  });
  flowsCase(
    'cli-legal',
    'flows-key',
    'accept',
    `flows:\n${FLOWS.split('\n')
      .map((l) => (l ? `  ${l}` : l))
      .join('\n')}`,
    { verify: (r) => (r.stdout.includes('3 of 3') ? [] : ['not all flows as expected']) },
  );
  for (const [label, content, category] of HOSTILE_YAML) flowsCase(category, label, 'reject', content, { oneLine: true });
  flowsCase('cli-yaml-bomb', 'cyclic-flows', 'reject', 'flows: &f [*f]\n', { oneLine: true });
  flowsCase(
    'cli-yaml-bomb',
    'cyclic-row',
    'reject',
    '- &r {from: payments/checkout, to: "a.example.com:443", expect: allow, labels: *r}\n',
    { oneLine: true },
  );
  flowsCase(
    'cli-yaml-bomb',
    'laughs-in-row',
    'reject',
    `${billionLaughs()}\nflows: [{from: payments/checkout, to: "a.example.com:443", expect: allow, labels: *j}]\n`,
    { oneLine: true },
  );
  flowsCase('cli-wrong-type', 'row-scalar', 'reject', '- 42\n', { oneLine: true });
  flowsCase('cli-wrong-type', 'row-list', 'reject', '- [a, b]\n', { oneLine: true });
  flowsCase(
    'cli-unknown-key',
    'row-unknown-key',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, expected: deny}\n',
    { oneLine: true },
  );
  flowsCase(
    'cli-injection',
    'row-unknown-key-escape',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, "\\e[2Jx": 1}\n',
    { oneLine: true },
  );
  flowsCase(
    'cli-proto-key',
    'row-proto-key',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, __proto__: {expect: deny}}\n',
    { oneLine: true, why: 'an own "__proto__" field was dropped' },
  );
  flowsCase('cli-wrong-type', 'row-missing-to', 'reject', '- {from: payments/checkout, expect: allow}\n', { oneLine: true });
  flowsCase('cli-wrong-type', 'row-expect-number', 'reject', '- {from: payments/checkout, to: "a.example.com:443", expect: 1}\n', {
    oneLine: true,
  });
  flowsCase('cli-options', 'row-expect-upper', 'reject', '- {from: payments/checkout, to: "a.example.com:443", expect: ALLOW}\n', {
    oneLine: true,
  });
  flowsCase('cli-boolean-ish', 'row-expect-true', 'reject', '- {from: payments/checkout, to: "a.example.com:443", expect: true}\n', {
    oneLine: true,
  });
  flowsCase(
    'cli-impossible',
    'row-at-feb-30',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, at: "2026-02-30T10:00:00Z"}\n',
    { oneLine: true, why: 'an impossible date was rolled over to another day' },
  );
  flowsCase(
    'cli-wrong-type',
    'row-at-number',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, at: 1772445600}\n',
    { oneLine: true },
  );
  flowsCase(
    'cli-wrong-type',
    'row-labels-list',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, labels: [a, b]}\n',
    { oneLine: true },
  );
  flowsCase(
    'cli-wrong-type',
    'row-labels-numbers',
    'reject',
    '- {from: payments/checkout, to: "api.stripe.com:443", expect: allow, labels: {app: 1}}\n',
    { oneLine: true },
  );
  flowsCase('cli-wrong-type', 'row-from-object', 'reject', '- {from: {ns: payments}, to: "api.stripe.com:443", expect: allow}\n', {
    oneLine: true,
  });
  flowsCase(
    'cli-unknown-key',
    'merge-key',
    'reject',
    'base: &b {from: payments/checkout}\nflows: [{<<: *b, to: "api.stripe.com:443", expect: allow}]\n',
    { oneLine: true },
  );
  cliCase('cli-options', 'simulate-missing-file', 'reject', ['simulate', 'no-such-flows.yaml'], { oneLine: true });
  cliCase('cli-options', 'simulate-directory', 'reject', ['simulate', '.'], { oneLine: true });
  cliCase('cli-options', 'simulate-no-file', 'reject', ['simulate'], { oneLine: true });
  cliCase('cli-options', 'simulate-empty-path', 'reject', ['simulate', ''], { oneLine: true });

  // ---- graph
  cliCase('cli-legal', 'graph-mermaid', 'accept', ['graph'], { verify: (r) => (r.stdout.trim() ? [] : ['empty picture']) });
  cliCase('cli-legal', 'graph-dot', 'accept', ['graph', '--format', 'dot'], {
    verify: (r) => (r.stdout.includes('digraph') ? [] : ['no digraph']),
  });
  cliCase('cli-legal', 'graph-to-file', 'accept', ['graph', '-o', 'picture.mmd'], {
    verify: (r) => (fs.existsSync(path.join(r.dir, 'picture.mmd')) ? [] : ['no file written']),
  });
  cliCase('cli-options', 'graph-format-png', 'reject', ['graph', '--format', 'png'], { oneLine: true });
  cliCase('cli-options', 'graph-format-empty', 'reject', ['graph', '--format', ''], { oneLine: true });
  cliCase('cli-injection', 'graph-format-escape', 'reject', ['graph', '--format', '\u001b[31mdot'], { oneLine: true });
  cliCase('cli-options', 'graph-output-missing-folder', 'reject', ['graph', '-o', 'no/such/folder/x.mmd'], { oneLine: true });
  cliCase('cli-options', 'graph-output-is-directory', 'reject', ['graph', '-o', '.'], { oneLine: true });
  cliCase('cli-options', 'graph-output-empty', 'reject', ['graph', '-o', ''], { oneLine: true });
  cliCase('cli-options', 'graph-output-nul', 'reject', ['graph', '-o', 'x\u0000.mmd'], { oneLine: true });

  // ---- import
  const importCase = (category, label, expect, content, extra = {}) =>
    cliCase(category, `import-${label}`, expect, ['import', `ces-${label}.yaml`, ...(extra.args || [])], {
      setup: withFile(`ces-${label}.yaml`, content),
      mention: `ces-${label}.yaml`,
      ...extra,
    });
  const CES = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'ces', 'egress-policy.yaml'), 'utf8');
  importCase('cli-legal', 'fixture', 'accept', CES, {
    acceptCodes: [0, 1],
    verify: (r) => (r.stdout.includes('export function') ? [] : ['no module written']),
  });
  importCase('cli-legal', 'fixture-allow-partial', 'accept', CES, {
    args: ['--allow-partial'],
    verify: (r) => (r.stdout.includes('export function') ? [] : ['no module written']),
  });
  for (const [label, content, category] of HOSTILE_YAML)
    importCase(category, label, 'reject', content, { oneLine: /laughs|alias/.test(label) });
  const ces = (kind, name, spec, ns = 'payments') =>
    `apiVersion: kubeovn.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n${spec}\n`;
  importCase(
    'cli-yaml-bomb',
    'cyclic-spec',
    'reject',
    'apiVersion: kubeovn.io/v1alpha1\nkind: ExternalService\nmetadata: {name: x, namespace: kube-system}\nspec: &s {addresses: [10.0.0.1], ports: *s}\n',
    { oneLine: true },
  );
  importCase('cli-yaml-bomb', 'cyclic-items', 'reject', 'apiVersion: v1\nkind: List\nitems: &a [*a]\n', { oneLine: true });
  importCase(
    'cli-injection',
    'unknown-spec-key-escape',
    'either',
    ces('ExternalService', 'bank', '  addresses: [198.51.100.7]\n  "\\e[2J\\e[31mevil": 1'),
    { acceptCodes: [0, 1] },
  );
  importCase('cli-injection', 'name-escape', 'reject', ces('ExternalService', '"bank\\e[31m"', '  addresses: [198.51.100.7]'), {});
  importCase('cli-impossible', 'address-impossible', 'reject', ces('ExternalService', 'bank', '  addresses: [999.999.999.999]'), {});
  importCase(
    'cli-out-of-range',
    'port-0',
    'reject',
    ces('ExternalService', 'bank', '  addresses: [198.51.100.7]\n  ports: [{name: p, protocol: TCP, port: "0"}]'),
    {},
  );
  importCase(
    'cli-out-of-range',
    'port-70000',
    'reject',
    ces('ExternalService', 'bank', '  addresses: [198.51.100.7]\n  ports: [{name: p, protocol: TCP, port: "70000"}]'),
    {},
  );
  importCase('cli-wrong-type', 'addresses-string', 'reject', ces('ExternalService', 'bank', '  addresses: 198.51.100.7'), {});
  importCase('cli-wrong-type', 'action-number', 'reject', ces('NamespaceEgressRule', 'r', '  action: 1\n  externalServices: [bank]'), {});
  importCase(
    'cli-boolean-ish',
    'logging-string',
    'reject',
    `${ces('ExternalService', 'bank', '  addresses: [198.51.100.7]')}---\n${ces('NamespaceEgressRule', 'r', '  action: accept\n  logging: "false"\n  externalServices: [bank]')}`,
    {},
  );
  importCase(
    'cli-proto-key',
    'spec-proto-key',
    'either',
    ces('ExternalService', 'bank', '  addresses: [198.51.100.7]\n  __proto__: {ports: [{name: p, protocol: TCP, port: "22"}]}'),
    { acceptCodes: [0, 1] },
  );
  cliCase('cli-options', 'import-cluster-upper', 'reject', ['import', 'ces-fixture.yaml', '--cluster', 'Prod'], {
    oneLine: true,
    setup: withFile('ces-fixture.yaml', CES),
  });
  cliCase('cli-options', 'import-cluster-41', 'reject', ['import', 'ces-fixture.yaml', '--cluster', 'c'.repeat(41)], {
    oneLine: true,
    setup: withFile('ces-fixture.yaml', CES),
  });
  cliCase('cli-options', 'import-namespace-upper', 'reject', ['import', 'ces-fixture.yaml', '--namespace', 'A'], {
    oneLine: true,
    setup: withFile('ces-fixture.yaml', CES),
  });
  cliCase('cli-injection', 'import-library-injection', 'reject', ['import', 'ces-fixture.yaml', '--library', "x'; process.exit(1); '"], {
    oneLine: true,
    setup: withFile('ces-fixture.yaml', CES),
  });
  cliCase('cli-options', 'import-output-missing-folder', 'reject', ['import', 'ces-fixture.yaml', '-o', 'no/such/x.ts'], {
    oneLine: true,
    setup: withFile('ces-fixture.yaml', CES),
  });
  cliCase('cli-options', 'import-output-is-directory', 'reject', ['import', 'ces-fixture.yaml', '--allow-partial', '-o', '.'], {
    oneLine: true,
    setup: withFile('ces-fixture.yaml', CES),
  });
  cliCase('cli-options', 'import-missing-file', 'reject', ['import', 'no-such.yaml'], { oneLine: true });
  cliCase('cli-options', 'import-directory', 'reject', ['import', '.'], { oneLine: true });

  // ---- diff
  cliCase('cli-legal', 'diff-same', 'accept', (dir, cli) => ['diff', cli.output, cli.output], {
    verify: (r) => (r.stdout.trim() ? [] : ['no report']),
  });
  cliCase('cli-legal', 'diff-changed', 'accept', (dir, cli) => ['diff', cli.output, cli.changed], {
    verify: (r) => (r.stdout.includes('web') ? [] : ['the new namespace rule is not reported']),
  });
  cliCase('cli-legal', 'diff-json', 'accept', (dir, cli) => ['diff', cli.output, cli.changed, '--format', 'json'], {
    verify: (r) => {
      try {
        JSON.parse(r.stdout);
        return [];
      } catch (e) {
        return [`not JSON: ${e.message}`];
      }
    },
  });
  cliCase('cli-options', 'diff-one-side', 'reject', (dir, cli) => ['diff', cli.output], { oneLine: true });
  cliCase('cli-options', 'diff-missing-dir', 'reject', (dir, cli) => ['diff', cli.output, 'no-such-dir'], { oneLine: true });
  cliCase('cli-options', 'diff-file-not-dir', 'reject', (dir, cli) => ['diff', cli.output, 'a-file.txt'], {
    oneLine: true,
    setup: (cli) => write(cli, 'a-file.txt', 'x'),
  });
  cliCase('cli-options', 'diff-format-html', 'reject', (dir, cli) => ['diff', cli.output, cli.changed, '--format', 'html'], {
    oneLine: true,
  });
  cliCase('cli-impossible', 'diff-at-feb-30', 'reject', (dir, cli) => ['diff', cli.output, cli.changed, '--at', '2026-02-30T10:00:00Z'], {
    oneLine: true,
    why: 'an impossible date was rolled over',
  });
  cliCase('cli-options', 'diff-device-unknown', 'reject', (dir, cli) => ['diff', cli.output, cli.changed, '--device', 'nope'], {
    oneLine: true,
  });
  cliCase('cli-options', 'diff-other-cluster', 'reject', (dir, cli) => ['diff', cli.output, cli.otherCluster], { oneLine: true });
  cliCase('cli-out', 'diff-corrupt-new', 'reject', (dir, cli) => ['diff', cli.output, path.join(cli.dir, 'out-as3-garbage', 'cdktf.out')], {
    oneLine: true,
    setup: (cli) => {
      corrupt('as3-garbage', (d) => {
        const tf = JSON.parse(fs.readFileSync(tfFile(d), 'utf8'));
        const [id] = Object.keys(tf.resource.bigip_as3);
        tf.resource.bigip_as3[id].as3_json = '{not json';
        fs.writeFileSync(tfFile(d), JSON.stringify(tf));
        const a = JSON.parse(fs.readFileSync(artifactFile(d), 'utf8'));
        fs.writeFileSync(artifactFile(d), JSON.stringify({ ...a, as3Sha256: sha256('{not json') }));
      })(cli);
      return cli.dir;
    },
  });
  for (const [label, content, category] of HOSTILE_YAML.filter(([l]) =>
    ['billion-laughs', 'cyclic-alias-list', 'dangling-alias', 'deep-flow-list', 'binary-garbage'].includes(l),
  )) {
    cliCase(
      category,
      `diff-state-${label}`,
      'reject',
      (dir, cli) => ['diff', cli.output, cli.changed, '--state', `diff-state-${label}.yaml`],
      { oneLine: true, mention: `diff-state-${label}.yaml`, setup: withFile(`diff-state-${label}.yaml`, content) },
    );
  }
}

module.exports = { cliCases, garbage, billionLaughs };
