'use strict';
/**
 * Runner of the hostile-input campaign: runs each case of cases.js the way a JavaScript user
 * would (no TypeScript types between the input and the library), classifies what happened and
 * explains every failure in one line.
 *
 * A construct case builds constructs in a fresh app and synthesizes it (`app.synth()`, as
 * `cdktf synth` does: validations, aspects and the policy artifacts run). A CLI case runs the
 * `cdktf-ces` tool in-process with an argv and a working directory.
 *
 * Outcome classes (the test asserts that the failure classes are empty):
 * - `rejected`: a well-formed rejection where one was expected;
 * - `accepted`: legal input, synthesized to output that is valid and says what the input said;
 * - `internal`: an error that is not a named policy error (a TypeError, a plain Error, an
 *   escaping error of a factory), or for the CLI an exit code other than 0/1/2 or a stack trace;
 * - `silent-accept`: bad input that synthesized without an error;
 * - `bad-rejection`: a rejection whose issues lack a path, field, value or fix (for the CLI: not
 *   clean lines with the value and the fix);
 * - `invalid-output`: legal input whose output is schema-invalid or does not say what the
 *   input said;
 * - `refused-legal`: legal input that was refused.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const FAILURE_CLASSES = ['internal', 'silent-accept', 'bad-rejection', 'invalid-output', 'refused-legal'];
const CLASS_TEXT = {
  internal: 'internal error',
  'silent-accept': 'silently accepted bad input',
  'bad-rejection': 'rejection missing path/field/value/fix',
  'invalid-output': 'accepted but invalid output',
  'refused-legal': 'legal input refused',
};

/** An error a hostile getter or Proxy trap throws: the caller's own error, not the library's. */
class HostileSentinel extends Error {
  constructor(where) {
    super(`hostile sentinel thrown by ${where}`);
    this.name = 'HostileSentinel';
  }
}

// ---------------------------------------------------------------------------------------------
// "Contains a fix": calibrated on the library's messages. A message tells how to fix the input
// when it gives an instruction (an imperative), states the form the value must take, or offers
// a correction. Bare diagnoses ("is required", "is out of range", zod's "Invalid input: …") do
// not.

const IMPERATIVES = [
  'use',
  'set',
  'remove',
  'write',
  'leave',
  'shorten',
  'give',
  'create',
  'add',
  'rename',
  'choose',
  'list',
  'make',
  'delete',
  'name',
  'pass',
  'put',
  'pick',
  'attach',
  'merge',
  'drop',
  'fix',
  'export',
  'run',
  'split',
  'ask',
  'narrow',
  'extend',
  'move',
  'replace',
  'declare',
  'select',
  'keep',
  'change',
  'raise',
  'lower',
  'define',
  'point',
  'omit',
  'spell',
  'quote',
  'escape',
  'reduce',
  'close',
  'check',
  'diff',
  'review',
  'start',
  'end',
  'apply',
  'type',
  'enter',
  'specify',
  'provide',
  'include',
  'avoid',
  'reserve',
  'lengthen',
  'encode',
  'restrict',
  'limit',
  'mark',
  'strip',
  'trim',
  'resolve',
  'place',
  'upgrade',
  'read',
  'map',
  'export',
  'synthesize',
  'attach',
  'pin',
];
const IMPERATIVE_RE = new RegExp(
  `(^|[;:.,(—–-]\\s*|\\bor\\s+|\\bthen\\s+|\\band\\s+|\\binstead\\s+|\\bplease\\s+)(${[...new Set(IMPERATIVES)].join('|')})\\b`,
  'i',
);
const PRESCRIPTIVE_RE = new RegExp(
  [
    '\\bmust (be|start|name|refer|contain|not|hold|come|end|lie|have|use|match|list)\\b',
    '\\bexpected [\\w"(\\[{]', // "expected a string", "expected EgressSnat.automap()…" (zod's own "Invalid input: expected …" is excluded above)
    '\\bdid you mean\\b',
    '\\bsuch as\\b',
    '\\bone of\\b',
    '\\bat (most|least) \\d',
    '\\bfrom -?\\d+ to \\d+',
    '\\b\\d+[–-]\\d+ (letters|characters|of)\\b', // "1–63 letters, digits…": the form a value must have
    '\\bonly (cluster|ASCII|a single|letters)\\b',
    '\\bmay contain only\\b',
    '\\bmay not\\b',
    '\\bneeds? (at least|a|an|the|its|one)\\b',
    '\\btakes no\\b',
    '\\bis reserved\\b',
    '\\busage: ',
    '\\bkubectl get\\b', // the command that writes the expected input
    '\\b(fields|commands|options|props|kinds) (of [^,;]+ )?are\\b', // lists the valid values
    '\\bknown [a-z ]+: ',
  ].join('|'),
  'i',
);
const ZOD_DEFAULT_RE = /^(Invalid input|Invalid option|Invalid element|Invalid key|Too (small|big)|Unrecognized key)/;

/** Whether an error message tells the user how to fix the input. */
function hasFix(message) {
  if (typeof message !== 'string' || message.trim() === '') return false;
  if (ZOD_DEFAULT_RE.test(message.trim())) return false;
  return IMPERATIVE_RE.test(message) || PRESCRIPTIVE_RE.test(message);
}

/** C0 and C1 control characters other than newline and tab: must never reach a terminal raw. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Where the first raw control character is: `U+001B in "…context…"` (escaped). */
function controlAt(text) {
  const m = RAW_CONTROL.exec(text);
  if (!m) return '';
  const from = Math.max(0, m.index - 40);
  return `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} in ${JSON.stringify(text.slice(from, m.index + 20))}`;
}

function oneLine(text, max = 160) {
  const s = String(text).replace(/\s+/g, ' ').trim();
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function show(value) {
  try {
    if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'symbol') return value.toString();
    if (typeof value === 'function') return 'a function';
    return oneLine(JSON.stringify(value) ?? String(value), 120);
  } catch {
    return String(value);
  }
}

/** Where in our code an unexpected error came from: the first stack frame under lib/ or providers/. */
function origin(e) {
  const stack = e && typeof e.stack === 'string' ? e.stack : '';
  const frame = stack.split('\n').find((l) => /[/\\](lib|providers)[/\\].*\.ts:\d+/.test(l) && !/node_modules/.test(l));
  const m = frame && /((lib|providers)[/\\][^:()]+\.ts:\d+)/.exec(frame);
  return m ? ` at ${m[1].replace(/\\/g, '/')}` : '';
}

function errorText(e) {
  if (e === null || typeof e !== 'object') return `a thrown ${typeof e} ${show(e)}`;
  const name = e.name || (e.constructor && e.constructor.name) || 'Error';
  return `${name}: ${oneLine(e.message, 140)}${origin(e)}`;
}

// ---------------------------------------------------------------------------------------------
// Rejections

/** Problems of an EgressPolicyError: every issue needs a path, field, value and fix. */
function policyErrorProblems(e) {
  const issues = Array.isArray(e.issues) ? e.issues : [];
  if (issues.length === 0) return ['EgressPolicyError without issues'];
  const out = [];
  for (const i of issues) {
    const where = `issue ${show(`${i.path}|${i.field}`)} ${show(i.message)}`;
    if (typeof i.path !== 'string' || i.path.trim() === '') out.push(`${where}: no path`);
    if (typeof i.field !== 'string' || i.field.trim() === '') out.push(`${where}: no field`);
    if (typeof i.value !== 'string' || i.value.trim() === '') out.push(`${where}: no value`);
    if (!hasFix(i.message)) out.push(`${where}: message has no fix`);
    if (RAW_CONTROL.test(`${i.path}${i.field}${i.value}${i.message}`))
      out.push(`${where}: raw ${controlAt(`${i.path}${i.field}${i.value}${i.message}`)}`);
  }
  return out;
}

const VALIDATION_HEADERS = [/^Validation failed with the following errors:/, /^Encountered Annotations with level "ERROR":/];

function isSynthValidationError(e) {
  return e instanceof Error && VALIDATION_HEADERS.some((h) => h.test(e.message));
}

/**
 * Problems of a failed synth (cdktf's validation or error-annotation report): each reported
 * line needs `[construct path]`, a field (`field:` or `guardrail <name>`), a value and a fix.
 */
function synthErrorProblems(e) {
  const lines = e.message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('['));
  if (lines.length === 0) return ['synth failed without a reported problem line'];
  const out = [];
  for (const line of lines) {
    // cdktf prefixes the reporting construct's path; a device repeats the path of the rule at fault.
    const m = /^((?:\[[^\]]*\]\s*)+)(.*)$/.exec(line);
    const where = show(line);
    const paths = m ? [...m[1].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1].trim()) : [];
    if (!m || paths.some((p) => p === '')) {
      out.push(`${where}: no construct path`);
      continue;
    }
    const body = m[2];
    const field = /^guardrail \w+/.test(body) || /^[A-Za-z_$][\w$.[\]]*(, [A-Za-z_$][\w$.[\]]*)*: /.test(body);
    if (!field) out.push(`${where}: no field`);
    if (!/\(got [^)]*\)|"[^"]*"|\([^)]+\)/.test(body)) out.push(`${where}: no value`);
    if (!hasFix(body)) out.push(`${where}: no fix`);
    if (RAW_CONTROL.test(body)) out.push(`${where}: raw ${controlAt(body)}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Construct cases

/** Every string of a JSON value, with its JSON path. */
function* strings(value, at = '') {
  if (typeof value === 'string') yield [at, value];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i], `${at}[${i}]`);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* strings(v, `${at}.${k}`);
}

/**
 * Terraform evaluates `${…}` and `%{…}` in cdk.tf.json; only our own references may appear:
 * variables, and the attributes of our own resources that cdktf renders as references.
 */
const OWN_TOKEN =
  /^\$\{(var|terraform_data|bigip_(as3|command)|kubernetes_manifest)\.[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_]*)*\}$/;

/**
 * Where the library itself writes Terraform expressions: the conditions of its resources
 * (ownership and tmsh-error checks). They are built from validated names only, so a hostile
 * string can reach them only through a validation gap, which the accepted-output checks of
 * each case would see in the rendered names.
 */
const OWN_EXPRESSION = /^\.resource\.bigip_(as3|command)\.[^.]+\.lifecycle\.(pre|post)condition\[\d+\]\.condition$/;

function interpolationProblems(stack, tf) {
  const out = [];
  for (const [at, s] of strings(tf)) {
    if (at.startsWith('.//') || OWN_EXPRESSION.test(at)) continue;
    if ((s.includes('${') || s.includes('%{')) && !OWN_TOKEN.test(s))
      out.push(`stack ${stack}${at}: Terraform would interpolate ${show(s)}`);
  }
  return out;
}

/** Reads what `app.synth()` wrote: every stack's cdk.tf.json and policy artifacts. */
function readOutput(outdir) {
  const out = { stacks: {}, as3: [], manifests: [], providers: [], commands: [], artifacts: [], variables: {} };
  const stacksDir = path.join(outdir, 'stacks');
  for (const stack of fs.existsSync(stacksDir) ? fs.readdirSync(stacksDir).sort() : []) {
    const tfFile = path.join(stacksDir, stack, 'cdk.tf.json');
    if (!fs.existsSync(tfFile)) continue;
    const tf = JSON.parse(fs.readFileSync(tfFile, 'utf8'));
    out.stacks[stack] = tf;
    const resources = tf.resource || {};
    for (const [id, r] of Object.entries(resources.bigip_as3 || {})) {
      out.as3.push({
        stack,
        id,
        path: r['//'] && r['//'].metadata && r['//'].metadata.path,
        request: JSON.parse(r.as3_json),
        raw: r.as3_json,
      });
    }
    for (const [id, r] of Object.entries(resources.kubernetes_manifest || {}))
      out.manifests.push({ stack, id, manifest: r.manifest, dependsOn: r.depends_on });
    for (const [id, r] of Object.entries(resources.bigip_command || {}))
      out.commands.push({ stack, id, commands: r.commands, when: r.when });
    for (const p of (tf.provider && tf.provider.bigip) || []) out.providers.push({ stack, ...p });
    Object.assign(out.variables, tf.variable || {});
    const artifactDir = path.join(stacksDir, stack, 'cdktf-ces');
    if (fs.existsSync(artifactDir)) {
      for (const f of fs.readdirSync(artifactDir).sort())
        out.artifacts.push({ stack, file: f, artifact: JSON.parse(fs.readFileSync(path.join(artifactDir, f), 'utf8')) });
    }
  }
  out.crs = out.manifests
    .map((m) => m.manifest)
    .filter((m) => m && typeof m.apiVersion === 'string' && m.apiVersion.startsWith('egress.cdktf-ces.io/'));
  out.crds = out.manifests.map((m) => m.manifest).filter((m) => m && m.kind === 'CustomResourceDefinition');
  return out;
}

function declarationOf(request) {
  return request && request.class === 'AS3' ? request.declaration : request;
}

/** Checks every AS3 request alone when it is self-contained, else merged with the /Common/Shared ones. */
function as3Problems(out, env) {
  const problems = [];
  const validator = env.as3Validator;
  if (!validator) return problems;
  const hasCommon = (r) => !!declarationOf(r.request).Common;
  const shared = out.as3.filter(hasCommon);
  for (const r of out.as3) {
    const doc = hasCommon(r) ? r.request : env.mergeAs3([...shared.map((s) => s.request), r.request]);
    const result = validator.validate(doc);
    if (!result.valid) problems.push(`AS3 of ${r.path || r.id} is schema-invalid: ${oneLine(result.errors.slice(0, 3).join(' | '), 300)}`);
  }
  return problems;
}

/** Every rule and ExternalService CR against its CRD as synthesized (structural schema and CEL rules). */
function crProblems(out, env) {
  const problems = [];
  const validators = new Map();
  for (const crd of out.crds) {
    const version = crd.spec && crd.spec.versions && crd.spec.versions[0];
    const schema = version && version.schema && version.schema.openAPIV3Schema;
    if (!schema) continue;
    // Compiling a schema is the slow part; the CRDs are the same in most cases.
    const key = JSON.stringify(schema);
    env.crdValidators = env.crdValidators || new Map();
    if (!env.crdValidators.has(key)) env.crdValidators.set(key, new env.CrdValidator(schema));
    validators.set(crd.spec.names.kind, env.crdValidators.get(key));
  }
  for (const cr of out.crs) {
    const v = validators.get(cr.kind);
    if (!v) continue;
    const errors = v.validate(cr);
    if (errors.length)
      problems.push(`${cr.kind} ${cr.metadata && cr.metadata.name} fails its CRD: ${oneLine(errors.slice(0, 3).join(' | '), 200)}`);
  }
  return problems;
}

/**
 * The source of every rule in the controller's sync plan is the rule's own source: two rules with
 * different sources never share a source list (names derived from content must not collide).
 */
function planProblems(out) {
  const problems = [];
  for (const { artifact } of out.artifacts) {
    const plan = artifact && artifact.plan;
    if (!plan || !Array.isArray(plan.rules) || !Array.isArray(plan.lists)) continue;
    const lists = new Map(plan.lists.map((l) => [l.path, l]));
    const byKey = new Map(
      ((artifact.model && artifact.model.rules) || []).map((r) => [
        r.level === 'cluster' ? `cluster/${r.name}` : `${r.level}/${r.namespace}/${r.name}`,
        r,
      ]),
    );
    for (const pr of plan.rules) {
      const rule = byKey.get(pr.key);
      const list = lists.get(pr.sourceList);
      if (!rule || !list) continue;
      const want = JSON.stringify(sortKeys(rule.source));
      const got = JSON.stringify(sortKeys(list.source));
      if (want !== got)
        problems.push(
          `rule ${pr.key} uses source list ${pr.sourceList} of another source: ${oneLine(got, 120)} instead of ${oneLine(want, 120)}`,
        );
    }
  }
  return problems;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

/** A fresh app for one case; the standard stacks and device are made on first use. */
function constructContext(env, caseId) {
  const { cdktf, L, KubernetesProvider } = env;
  const outdir = fs.mkdtempSync(path.join(env.tmp, 'c-'));
  const app = cdktf.Testing.app({ outdir, stackTraces: false });
  const ctx = {
    L,
    cdktf,
    app,
    outdir,
    caseId,
    Sentinel: HostileSentinel,
    _crds: undefined,
    _stack: undefined,
    _device: undefined,
    get crds() {
      if (!this._crds) this._crds = new L.EgressCrdStack(app, 'crds');
      return this._crds;
    },
    get stack() {
      if (!this._stack) {
        this._stack = new cdktf.TerraformStack(app, 'egress');
        new KubernetesProvider(this._stack, 'k8s', {});
      }
      return this._stack;
    },
    /** Another rule stack (a second cluster, or a shared BIG-IP's stack). */
    newStack(id) {
      const s = new cdktf.TerraformStack(app, id);
      new KubernetesProvider(s, 'k8s', {});
      return s;
    },
    deviceProps(extra) {
      return {
        clusterName: 'prod',
        address: 'bigip.example.net',
        tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
        crdStack: this.crds,
        dnsResolver: '/Common/egress-resolver',
        ...extra,
      };
    },
    get device() {
      if (!this._device) this._device = new L.AfmDevice(this.stack, 'Bigip', this.deviceProps());
      return this._device;
    },
  };
  return ctx;
}

/**
 * A rejection of a one-prop case must be about that prop: an issue on its field (or on a field
 * it is documented to imply), else the case may hide a silent acceptance behind another error.
 */
function aboutField(c, fields) {
  if (!c.field) return [];
  const wanted = [c.field, ...(c.alsoFields || [])];
  const hit = fields.some((f) => wanted.some((w) => f === w || f.startsWith(`${w}.`) || f.startsWith(`${w}[`) || f.includes(w)));
  return hit
    ? []
    : [`rejected, but not for ${JSON.stringify(c.field)}: the issues are about ${JSON.stringify([...new Set(fields)].slice(0, 4))}`];
}

function classifyRejection(c, e, env, phase) {
  const isPolicy = e instanceof env.L.EgressPolicyError;
  if (isPolicy) {
    const problems = [
      ...policyErrorProblems(e),
      ...aboutField(
        c,
        (e.issues || []).map((i) => String(i.field)),
      ),
    ];
    return problems.length ? { cls: 'bad-rejection', detail: `${phase}: ${problems.slice(0, 3).join('; ')}` } : { cls: 'rejected' };
  }
  if (isSynthValidationError(e)) {
    const lines = e.message.split('\n').filter((l) => l.trim().startsWith('['));
    const problems = [...synthErrorProblems(e), ...aboutField(c, lines)];
    return problems.length ? { cls: 'bad-rejection', detail: `synth: ${problems.slice(0, 3).join('; ')}` } : { cls: 'rejected' };
  }
  if (e instanceof HostileSentinel) return { cls: 'rejected', note: 'the caller\u2019s own error propagated' };
  if (e && e.name === 'InvalidValueError')
    return { cls: 'bad-rejection', detail: `${phase}: ${errorText(e)} (a value error that escaped without construct path and field)` };
  return { cls: 'internal', detail: `${phase}: ${errorText(e)}` };
}

function runConstructCase(c, env) {
  const ctx = constructContext(env, c.id);
  let phase = 'construction';
  let error;
  let out;
  try {
    try {
      c.build(ctx);
      phase = 'synth';
      ctx.app.synth();
      out = readOutput(ctx.outdir);
    } catch (e) {
      error = e;
    } finally {
      if (c.cleanup) c.cleanup(ctx);
    }
    if (error !== undefined) {
      if (c.expect === 'reject' || c.expect === 'either') {
        const r = classifyRejection(c, error, env, phase);
        if (r.cls === 'rejected') return { cls: 'rejected' };
        return r;
      }
      // Legal input: any refusal is wrong; a named refusal is "refused-legal", anything else internal.
      if (error instanceof env.L.EgressPolicyError || isSynthValidationError(error)) {
        return { cls: 'refused-legal', detail: `${phase}: ${oneLine(error.message, 200)}` };
      }
      return { cls: 'internal', detail: `${phase}: ${errorText(error)}` };
    }
    if (c.expect === 'reject') {
      return { cls: 'silent-accept', detail: c.why ? `synthesized without an error; ${c.why}` : 'synthesized without an error' };
    }
    const problems = [
      ...as3Problems(out, env),
      ...crProblems(out, env),
      ...planProblems(out),
      ...require('./check-output').duplicateObjects(out),
    ];
    for (const [stack, tf] of Object.entries(out.stacks)) problems.push(...interpolationProblems(stack, tf));
    if (c.verify) {
      try {
        problems.push(...(c.verify(out, ctx) || []));
      } catch (e) {
        problems.push(`cannot read the output: ${errorText(e)}`);
      }
    }
    return problems.length ? { cls: 'invalid-output', detail: problems.slice(0, 3).join('; ') } : { cls: 'accepted' };
  } finally {
    fs.rmSync(ctx.outdir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// CLI cases

const STACK_TRACE = /\n\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)/;

async function runCliCase(c, env) {
  const dir = c.setup ? c.setup(env.cli) : env.cli.dir;
  const argv = typeof c.argv === 'function' ? c.argv(dir, env.cli) : c.argv;
  let stdout = '';
  let stderr = '';
  const io = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dir };
  let code;
  try {
    code = await env.cli.run(argv, io);
  } catch (e) {
    return { cls: 'internal', detail: `run() threw ${errorText(e)}` };
  }
  const printed = `${stdout}\n${stderr}`;
  if (code === 3 || STACK_TRACE.test(printed)) {
    const lines = stderr.split('\n');
    const line = lines.find((l) => /internal error/.test(l)) || lines.find((l) => l.trim()) || '';
    const frame = (stderr.match(/\((\/[^)]*?[/\\](lib|node_modules)[/\\][^)]*)\)/) || [])[1];
    return {
      cls: 'internal',
      detail: `exit ${code}: ${oneLine(line, 150)}${frame ? ` at ${frame.replace(/^.*?[/\\]((lib|node_modules)[/\\])/, '$1')}` : ''}`,
    };
  }
  if (![0, 1, 2].includes(code)) return { cls: 'internal', detail: `exit code ${code}` };
  const expect = c.expect;
  const accepts = c.acceptCodes || [0];
  if (code === 2) {
    const problems = cliRejectionProblems(stderr, c);
    if (expect === 'reject' || expect === 'either')
      return problems.length ? { cls: 'bad-rejection', detail: problems.slice(0, 2).join('; ') } : { cls: 'rejected' };
    return { cls: 'refused-legal', detail: `exit 2: ${oneLine(stderr, 200)}` };
  }
  if (expect === 'reject')
    return { cls: 'silent-accept', detail: `exit ${code}${c.why ? `; ${c.why}` : ''}; ${oneLine(stderr || stdout, 120)}` };
  if (!accepts.includes(code))
    return { cls: 'refused-legal', detail: `exit ${code} (expected ${accepts.join(' or ')}): ${oneLine(stderr || stdout, 160)}` };
  const problems = [];
  if (RAW_CONTROL.test(printed)) problems.push(`raw control character printed: ${controlAt(printed)}`);
  if (c.verify) {
    try {
      problems.push(...(c.verify({ code, stdout, stderr, dir }) || []));
    } catch (e) {
      problems.push(`cannot check the output: ${errorText(e)}`);
    }
  }
  return problems.length ? { cls: 'invalid-output', detail: problems.slice(0, 3).join('; ') } : { cls: 'accepted' };
}

/** Exit 2 output: clean lines, each from the tool, with the value (`got …`) and a fix. */
function cliRejectionProblems(stderr, c) {
  const problems = [];
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return ['exit 2 without a message'];
  if (RAW_CONTROL.test(stderr)) problems.push(`raw control character on stderr: ${controlAt(stderr)}`);
  if (c.oneLine && lines.length !== 1) problems.push(`${lines.length} lines instead of one: ${show(lines.slice(0, 2).join(' / '))}`);
  const reported = lines.filter((l) => /\(got /.test(l));
  if (reported.length === 0) problems.push(`no "(got …)" value: ${show(lines[0])}`);
  for (const l of reported) if (!hasFix(l.slice(l.indexOf('(got ')))) problems.push(`no fix: ${show(l)}`);
  for (const l of lines) if (!l.startsWith('cdktf-ces')) problems.push(`line not from the tool: ${show(l)}`);
  // The refusal must be about the hostile input (its file or option), not about something else.
  if (c.mention && !stderr.includes(c.mention)) problems.push(`rejected, but not for ${JSON.stringify(c.mention)}: ${show(lines[0])}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Report

function tally(results) {
  const byCategory = new Map();
  for (const r of results) {
    const row = byCategory.get(r.category) || { category: r.category, cases: 0, rejected: 0, accepted: 0, failures: 0 };
    row.cases++;
    if (r.cls === 'rejected') row.rejected++;
    else if (r.cls === 'accepted') row.accepted++;
    else row.failures++;
    byCategory.set(r.category, row);
  }
  const classes = Object.fromEntries(FAILURE_CLASSES.map((k) => [k, results.filter((r) => r.cls === k).length]));
  return { rows: [...byCategory.values()], classes };
}

function markdownTable(rows) {
  const total = rows.reduce(
    (t, r) => ({
      cases: t.cases + r.cases,
      rejected: t.rejected + r.rejected,
      accepted: t.accepted + r.accepted,
      failures: t.failures + r.failures,
    }),
    { cases: 0, rejected: 0, accepted: 0, failures: 0 },
  );
  const lines = ['| category | cases | rejected as expected | accepted as expected | failures |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.category} | ${r.cases} | ${r.rejected} | ${r.accepted} | ${r.failures} |`);
  lines.push(`| **total** | **${total.cases}** | **${total.rejected}** | **${total.accepted}** | **${total.failures}** |`);
  return lines.join('\n');
}

function failureReport(results) {
  const failed = results.filter((r) => FAILURE_CLASSES.includes(r.cls));
  const lines = [];
  const categories = [...new Set(failed.map((r) => r.category))];
  for (const cat of categories) {
    const inCat = failed.filter((r) => r.category === cat);
    lines.push(`${cat} (${inCat.length}):`);
    for (const r of inCat) lines.push(`  ${r.id} [${CLASS_TEXT[r.cls]}] ${r.detail || ''}`);
  }
  return lines.join('\n');
}

/**
 * The failures, compact: one line per case group (same construct prop or scenario, same outcome
 * class) with the labels of its values and the first case's detail.
 */
function compactFailureReport(results) {
  const failed = results.filter((r) => FAILURE_CLASSES.includes(r.cls));
  const lines = [];
  for (const cat of [...new Set(failed.map((r) => r.category))]) {
    const inCat = failed.filter((r) => r.category === cat);
    lines.push(`${cat} (${inCat.length}):`);
    const groups = new Map();
    for (const r of inCat) {
      const eq = r.id.indexOf('=');
      const key = `${eq > 0 ? r.id.slice(0, eq) : r.id}|${r.cls}`;
      const g = groups.get(key) || { prefix: eq > 0 ? r.id.slice(0, eq) : r.id, cls: r.cls, labels: [], detail: r.detail };
      if (eq > 0) g.labels.push(r.id.slice(eq + 1));
      groups.set(key, g);
    }
    for (const g of groups.values())
      lines.push(
        `  ${g.prefix}${g.labels.length ? `={${g.labels.join(', ')}}` : ''} [${CLASS_TEXT[g.cls]}] ${oneLine(g.detail || '', 200)}`,
      );
  }
  return lines.join('\n');
}

function tmpRoot() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ces-hostile-'));
}

module.exports = {
  FAILURE_CLASSES,
  CLASS_TEXT,
  HostileSentinel,
  hasFix,
  policyErrorProblems,
  synthErrorProblems,
  runConstructCase,
  runCliCase,
  tally,
  markdownTable,
  failureReport,
  compactFailureReport,
  tmpRoot,
  oneLine,
  show,
};
