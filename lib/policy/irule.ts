/**
 * User iRule code that a rule runs when it matches (`onMatch`).
 *
 * AFM runs a firewall rule's iRule at FLOW_INIT, once per flow the rule matches (F5 iRules
 * reference, "FLOW_INIT"). A firewall rule has one iRule slot (AS3 `Firewall_Rule.iRule`), which
 * a bandwidth limit already uses; a rule with both gets one iRule of two `when FLOW_INIT`
 * blocks: ours (the bandwidth attach, priority 1) and the user's text after it, verbatim. Two
 * blocks of one event with different priorities in one iRule is legal (tmsh reference,
 * "priority": events are stored by event name and priority, valid priorities 0–1000). The
 * user's text is a whole top-level command checked to be exactly one `when FLOW_INIT { … }`
 * with balanced braces, so nothing in it can reach into our block.
 *
 * Synth checks what can be checked without a Tcl interpreter (see {@link iRuleProblems}); the
 * device validates the commands themselves when AS3 saves the iRule.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { z } from 'zod';
import { quote } from './errors';
import type { IRuleModel } from './model';
import { describe } from './struct';

/** The largest user iRule accepted, in bytes (see docs/irules.md for why this number). */
export const IRULE_MAX_BYTES = 4096;

/** Priority of our own bandwidth block when it shares an iRule with user code: it runs first. */
export const BANDWIDTH_BLOCK_PRIORITY = 1;

/** What a factory was given, kept as given: checked when a rule receives it, so errors name the rule. */
interface IRuleArguments {
  /** How the value was made, for messages. */
  readonly call: string;
  readonly source: string;
  readonly code: unknown;
  /** A problem found reading the input (a file that cannot be read). */
  readonly problem?: string;
}

const ARGUMENTS = new WeakMap<object, IRuleArguments>();

/** Whether `x` was made by a factory of {@link EgressIRule}. */
export function isEgressIRule(x: unknown): x is EgressIRule {
  return typeof x === 'object' && x !== null && ARGUMENTS.has(x);
}

/**
 * iRule code a rule runs when it matches: AFM's FLOW_INIT event, for example to log or tag a
 * flow, or to pick its next hop. The code must be exactly one `when FLOW_INIT { … }` (comments
 * around it are fine); it may not change the firewall's verdict. See docs/irules.md.
 *
 * The code is read when the factory is called and checked when a rule receives it, so an error
 * names the rule's construct path.
 */
export class EgressIRule {
  /** iRule code given as a string. */
  public static fromString(code: string): EgressIRule {
    return new EgressIRule({ call: `EgressIRule.fromString(${describeArgument(code)})`, source: 'string', code });
  }

  /**
   * iRule code read from a file (UTF-8) when this is called; a relative path is relative to the
   * working directory of synth.
   */
  public static fromFile(path: string): EgressIRule {
    const call = `EgressIRule.fromFile(${describeArgument(path)})`;
    if (typeof path !== 'string' || path === '')
      return new EgressIRule({ call, source: 'file', code: undefined, problem: 'give the path of a file that holds the iRule code' });
    // Named relative to the working directory, so that what tools show of it (explain, the
    // custom resource's annotation) does not depend on where the checkout lies.
    const source = `file ${nodePath.relative(process.cwd(), nodePath.resolve(path)).split(nodePath.sep).join('/')}`;
    try {
      return new EgressIRule({ call, source, code: fs.readFileSync(path, 'utf8') });
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      return new EgressIRule({ call, source, code: undefined, problem: `the file cannot be read (${reason}); check the path` });
    }
  }

  /** Where the code comes from: `file <path>` or `string`. */
  public readonly source: string;

  private constructor(args: IRuleArguments) {
    ARGUMENTS.set(this, Object.freeze(args));
    this.source = args.source;
    Object.freeze(this);
  }

  /** The factory call that made it. */
  public toString(): string {
    return ARGUMENTS.get(this)?.call ?? 'an EgressIRule not made by its static factories';
  }
}
Object.freeze(EgressIRule);
Object.freeze(EgressIRule.prototype);

function describeArgument(v: unknown): string {
  if (typeof v !== 'string') return v === undefined ? 'undefined' : describe(v);
  return quote(v.length <= 40 ? v : `${v.slice(0, 37)}...`);
}

/** One problem of a user iRule: what is wrong (and how to fix it), and where. */
export interface IRuleProblem {
  /** A short quote of where: `line 3: "drop"`. */
  readonly at: string;
  readonly message: string;
}

/**
 * What AS3 does to iRule text before it deploys it, in the part that never changes what the
 * code means: CRLF to LF, and the blanks around the whole text trimmed (AS3
 * `src/lib/map_as3.js` createIRule). Its other rewrites (trailing blanks of each line,
 * backslash-newline continuations) can change a string or glue two words, so text that has
 * them is refused rather than rewritten.
 */
export function normaliseIRule(code: string): string {
  return code.replace(/\r\n/g, '\n').trim();
}

/** Commands whose effect on a flow would change the verdict the policy decides. */
const VERDICT_COMMANDS: ReadonlySet<string> = new Set([
  'drop',
  'discard',
  'reject',
  'virtual',
  'TCP::close',
  'TCP::respond',
  'UDP::respond',
]);
/** Command namespaces that decide the verdict (ACL) or belong to the rule's bandwidthLimit (BWC). */
const VERDICT_NAMESPACES = ['ACL::'];
const BANDWIDTH_NAMESPACES = ['BWC::'];
/** Commands that run code assembled at run time, whose commands synth therefore cannot see. */
const DYNAMIC_COMMANDS: ReadonlySet<string> = new Set([
  'eval',
  'uplevel',
  'subst',
  'after',
  'proc',
  'call',
  'rename',
  'interp',
  'apply',
  'namespace',
  'trace',
  'source',
  'load',
]);

/** Arguments of these commands (by position, 1-based) are expressions, not scripts. */
const EXPRESSION_ARGUMENTS: Readonly<Record<string, readonly number[]>> = { if: [1], while: [1], for: [2] };

interface Word {
  readonly kind: 'bare' | 'braced' | 'quoted';
  /** Offsets of the word's content in the text (inside the braces or quotes). */
  readonly start: number;
  readonly end: number;
  /** Command substitutions (`[…]`) in a bare or quoted word. */
  readonly substitutions: readonly Command[][];
}

interface Command {
  readonly start: number;
  readonly words: readonly Word[];
}

const BLANK = new Set([' ', '\t']);

/**
 * A reader of Tcl's word structure (Tcl's twelve rules: commands, braced, quoted and bare
 * words, `[…]` substitution, backslash escapes, comments), enough to find the `when` blocks
 * and the command names in them. It evaluates nothing.
 */
class TclReader {
  public readonly problems: { offset: number; message: string }[] = [];
  constructor(public readonly text: string) {}

  /** Commands from `start` up to `end` (or the `]` closing a substitution, whose offset is returned). */
  public script(start: number, end: number, inBrackets: boolean): { commands: Command[]; stop: number } {
    const t = this.text;
    const commands: Command[] = [];
    let i = start;
    for (;;) {
      while (i < end && (BLANK.has(t[i]) || t[i] === '\n' || t[i] === ';')) i++;
      if (i >= end || (inBrackets && t[i] === ']')) return { commands, stop: i };
      if (t[i] === '#') {
        while (i < end && t[i] !== '\n') i++;
        continue;
      }
      const cmdStart = i;
      const words: Word[] = [];
      while (i < end && t[i] !== '\n' && t[i] !== ';' && !(inBrackets && t[i] === ']')) {
        if (BLANK.has(t[i])) {
          i++;
          continue;
        }
        const w = this.word(i, end, inBrackets);
        words.push(w.word);
        i = w.next;
      }
      commands.push({ start: cmdStart, words });
    }
  }

  private word(i: number, end: number, inBrackets: boolean): { word: Word; next: number } {
    const t = this.text;
    if (t[i] === '{') {
      let depth = 1;
      let j = i + 1;
      while (j < end && depth > 0) {
        if (t[j] === '\\') j += 2;
        else {
          if (t[j] === '{') depth++;
          else if (t[j] === '}') depth--;
          j++;
        }
      }
      if (depth > 0) {
        this.problems.push({ offset: i, message: 'this "{" is never closed: add its "}" (Tcl pairs every brace, those in comments too)' });
        return { word: { kind: 'braced', start: i + 1, end, substitutions: [] }, next: end };
      }
      this.afterWord(j, end, inBrackets, '"}"');
      return { word: { kind: 'braced', start: i + 1, end: j - 1, substitutions: [] }, next: this.skipToBoundary(j, end, inBrackets) };
    }
    if (t[i] === '"') {
      const substitutions: Command[][] = [];
      let j = i + 1;
      while (j < end && t[j] !== '"') {
        if (t[j] === '\\') j += 2;
        else if (t[j] === '[') j = this.substitution(j, end, substitutions);
        else j++;
      }
      if (j >= end) {
        this.problems.push({ offset: i, message: 'this double quote is never closed: add the closing quote' });
        return { word: { kind: 'quoted', start: i + 1, end, substitutions }, next: end };
      }
      this.afterWord(j + 1, end, inBrackets, 'a closing double quote');
      return { word: { kind: 'quoted', start: i + 1, end: j, substitutions }, next: this.skipToBoundary(j + 1, end, inBrackets) };
    }
    const substitutions: Command[][] = [];
    let j = i;
    while (j < end && !BLANK.has(t[j]) && t[j] !== '\n' && t[j] !== ';' && !(inBrackets && t[j] === ']')) {
      if (t[j] === '\\') j += 2;
      else if (t[j] === '[') j = this.substitution(j, end, substitutions);
      else if (t[j] === '$' && t[j + 1] === '{') {
        const close = t.indexOf('}', j);
        j = close < 0 || close >= end ? end : close + 1;
      } else j++;
    }
    return { word: { kind: 'bare', start: i, end: Math.min(j, end), substitutions }, next: Math.min(j, end) };
  }

  /** A `[…]` substitution at `open`; returns the offset after its `]`. */
  private substitution(open: number, end: number, into: Command[][]): number {
    const inner = this.script(open + 1, end, true);
    into.push(inner.commands);
    if (inner.stop >= end) {
      this.problems.push({ offset: open, message: 'this "[" is never closed: add its "]"' });
      return end;
    }
    return inner.stop + 1;
  }

  /** Tcl refuses characters right after a closing brace or quote ("extra characters after close-brace"). */
  private afterWord(j: number, end: number, inBrackets: boolean, what: string): void {
    const t = this.text;
    if (j < end && !BLANK.has(t[j]) && t[j] !== '\n' && t[j] !== ';' && !(inBrackets && t[j] === ']')) {
      this.problems.push({ offset: j, message: `Tcl refuses characters right after ${what}; put a space before this one` });
    }
  }

  private skipToBoundary(j: number, end: number, inBrackets: boolean): number {
    const t = this.text;
    while (j < end && !BLANK.has(t[j]) && t[j] !== '\n' && t[j] !== ';' && !(inBrackets && t[j] === ']')) j++;
    return j;
  }

  public content(w: Word): string {
    return this.text.slice(w.start, w.end);
  }
}

/** 1-based line of an offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

function excerpt(text: string): string {
  return quote(text.length <= 40 ? text : `${text.slice(0, 37)}...`);
}

/** Lines listed for a message: `3, 5 and 9` (at most five, then `…`). */
function lineList(lines: readonly number[]): string {
  const shown = lines.slice(0, 5).map(String);
  if (lines.length > 5) shown.push(`${lines.length - 5} more`);
  return shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/**
 * Everything wrong with a user iRule (normalised with {@link normaliseIRule}), all at once:
 * - characters: printable ASCII, tab and line feed only (no NUL or other control character, no
 *   carriage return once CRLF line ends are turned into LF, nothing outside ASCII);
 * - size: at most {@link IRULE_MAX_BYTES} bytes;
 * - no blanks at the end of a line and no backslash at the end of a line (AS3 strips the first
 *   and deletes the second together with the next line's indentation, changing the code);
 * - structure: exactly one top-level `when FLOW_INIT { … }`, no other event, no other top-level
 *   command (comments are fine), no `priority` or `timing` on it; braces, brackets and double
 *   quotes pair up the way Tcl reads them (braced words inside are read as scripts, so a
 *   double quote inside a braced string must be paired too);
 * - commands: none that changes the verdict (`drop`, `discard`, `reject`, `virtual`,
 *   `TCP::close`, `TCP::respond`, `UDP::respond`, `ACL::…`), none of `BWC::…` (bandwidthLimit
 *   does that), none that runs code built at run time (`eval`, `uplevel`, `subst`, `after`,
 *   `proc`, `call`, …) and no command whose name comes from a variable or a substitution. A
 *   refused name is refused wherever it stands as a whole word, even as an argument: the check
 *   cannot tell an argument that later becomes a command from one that does not.
 *
 * Backquotes, `${` and `%{` are fine: the text is rendered base64-encoded with `expand: false`,
 * so neither AS3's backquote expansion nor Terraform's templates ever see it.
 */
export function iRuleProblems(code: string): IRuleProblem[] {
  const problems: IRuleProblem[] = [];
  if (code === '') return [{ at: quote(''), message: 'the iRule is empty: give one `when FLOW_INIT { … }` block' }];

  const bad: string[] = [];
  const lines = code.split('\n');
  lines.forEach((line, i) => {
    for (let c = 0; c < line.length; c++) {
      const ch = line.charCodeAt(c);
      if (ch === 9 || (ch >= 0x20 && ch <= 0x7e)) continue;
      const cp = line.codePointAt(c) as number;
      const name = cp === 13 ? 'a carriage return not followed by a line feed' : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      bad.push(`line ${i + 1} column ${c + 1}: ${name}`);
      if (cp > 0xffff) c++;
    }
  });
  if (bad.length) {
    problems.push({
      at: bad.slice(0, 3).join('; ') + (bad.length > 3 ? `; ${bad.length - 3} more` : ''),
      message:
        'an iRule may hold printable ASCII, tabs and line feeds only; write other characters as Tcl escapes such as \\u00e9 and remove control characters',
    });
  }
  const bytes = Buffer.byteLength(code, 'utf8');
  if (bytes > IRULE_MAX_BYTES) {
    problems.push({
      at: `${bytes} bytes`,
      message: `an iRule run on match may have at most ${IRULE_MAX_BYTES} bytes; keep FLOW_INIT code short (put lookups into data groups)`,
    });
  }
  const trailing = lines.flatMap((l, i) => (/[ \t]$/.test(l) ? [i + 1] : []));
  if (trailing.length) {
    problems.push({
      at: `line ${lineList(trailing)}`,
      message: 'remove the blanks at the end of these lines: AS3 strips them, which would change a string that spans lines',
    });
  }
  const continued = lines.flatMap((l, i) => (l.endsWith('\\') && i < lines.length - 1 ? [i + 1] : []));
  if (continued.length) {
    problems.push({
      at: `line ${lineList(continued)}`,
      message:
        "a backslash ends these lines: AS3 deletes a backslash-newline with the next line's indentation (Tcl reads one space), gluing words together; write each command on one line",
    });
  }
  problems.push(...structureProblems(code));
  return problems;
}

function structureProblems(code: string): IRuleProblem[] {
  const reader = new TclReader(code);
  const { commands } = reader.script(0, code.length, false);
  const problems: IRuleProblem[] = [];
  const at = (offset: number, text: string) => `line ${lineOf(code, offset)}: ${excerpt(text)}`;
  const otherEvents: string[] = [];
  let flowInit = 0;
  for (const cmd of commands) {
    const first = cmd.words[0];
    const name = reader.content(first);
    if (first.kind === 'bare' && name === 'when') {
      const event = cmd.words[1] ? reader.content(cmd.words[1]) : '';
      if (event !== 'FLOW_INIT') {
        otherEvents.push(`${event || '(no event)'} (line ${lineOf(code, cmd.start)})`);
        continue;
      }
      flowInit++;
      const body = cmd.words[cmd.words.length - 1];
      if (cmd.words.length !== 3 || body.kind !== 'braced') {
        problems.push({
          at: at(cmd.start, code.slice(cmd.start, code.indexOf('\n', cmd.start) < 0 ? undefined : code.indexOf('\n', cmd.start))),
          message:
            'write the block as `when FLOW_INIT { … }`, without priority or timing: the rule runs this iRule alone (its bandwidth block, if any, runs first at priority 1)',
        });
      }
      if (body?.kind === 'braced') walk(reader, reader.script(body.start, body.end, false).commands, problems, at);
      continue;
    }
    problems.push({
      at: at(cmd.start, name),
      message:
        name === '}'
          ? 'this "}" closes nothing: remove it, or add the "{" it closes'
          : 'only `when FLOW_INIT { … }` and comments may stand at the top level of the iRule; move this into the FLOW_INIT block',
    });
  }
  if (otherEvents.length) {
    problems.push({
      at: otherEvents.join(', '),
      message: "AFM runs a firewall rule's iRule at FLOW_INIT only; remove the blocks of other events",
    });
  }
  if (flowInit === 0)
    problems.push({ at: excerpt(code), message: 'the iRule has no `when FLOW_INIT { … }` block; write the code inside one' });
  if (flowInit > 1)
    problems.push({ at: `${flowInit} blocks`, message: 'write exactly one `when FLOW_INIT { … }` block; merge the others into it' });
  for (const p of reader.problems)
    problems.push({ at: at(p.offset, code.slice(p.offset, p.offset + 20).split('\n')[0]), message: p.message });
  return problems;
}

/**
 * A word as Tcl reads it for a command name: backslash escapes substituted (`\x64rop` is `drop`)
 * and leading `::` (the global namespace, where the iRule commands live) removed.
 */
function commandName(text: string): string {
  const unescaped = text.replace(/\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|[0-7]{1,3}|[\s\S])/g, (_, e: string) => {
    if ((e[0] === 'x' || e[0] === 'u') && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[e] ?? e;
  });
  return unescaped.replace(/^(::)+/, '');
}

function refusal(word: string): string | undefined {
  const name = commandName(word);
  if (VERDICT_COMMANDS.has(name) || VERDICT_NAMESPACES.some((n) => name.startsWith(n)))
    return `${name} changes the firewall's verdict, which the rule's action decides (and explain and the tests could not see); remove it, or use a DENY or REJECT rule`;
  if (BANDWIDTH_NAMESPACES.some((n) => name.startsWith(n)))
    return `${name} belongs to the rule's bandwidthLimit; set bandwidthLimit on the rule instead`;
  if (DYNAMIC_COMMANDS.has(name)) return `${name} runs code built at run time, whose commands synth cannot check; write the commands out`;
  return undefined;
}

/** Looks at every command of a script, its words and its substitutions, recursively. */
function walk(
  reader: TclReader,
  commands: readonly Command[],
  problems: IRuleProblem[],
  at: (offset: number, text: string) => string,
): void {
  for (const cmd of commands) {
    const first = cmd.words[0];
    const name = reader.content(first);
    if (first.kind !== 'braced' && (name.includes('$') || name.includes('['))) {
      problems.push({
        at: at(first.start, name),
        message: 'the command name comes from a variable or a substitution, so synth cannot check what it runs; name the command itself',
      });
    } else if (first.kind !== 'braced' && name.includes('\\') && !refusal(name)) {
      problems.push({
        at: at(first.start, name),
        message: 'the command name holds a backslash escape, which hides what it runs; write the name plainly',
      });
    }
    const expressions = EXPRESSION_ARGUMENTS[name] ?? [];
    cmd.words.forEach((w, k) => {
      const text = reader.content(w);
      if (w.kind !== 'braced') {
        const why = refusal(text);
        if (why) problems.push({ at: at(w.start, text), message: why });
        for (const sub of w.substitutions) walk(reader, sub, problems, at);
        return;
      }
      const isExpression = expressions.includes(k) || name === 'expr' || (name === 'if' && reader.content(cmd.words[k - 1]) === 'elseif');
      if (isExpression) walk(reader, expressionSubstitutions(reader, w), problems, at);
      else walk(reader, reader.script(w.start, w.end, false).commands, problems, at);
    });
  }
}

/** The `[…]` substitutions of a braced expression (its other content is operands and operators). */
function expressionSubstitutions(reader: TclReader, w: Word): Command[] {
  const out: Command[] = [];
  const t = reader.text;
  for (let i = w.start; i < w.end; i++) {
    if (t[i] === '\\') i++;
    else if (t[i] === '[') {
      const inner = reader.script(i + 1, w.end, true);
      out.push(...inner.commands);
      i = inner.stop;
    }
  }
  return out;
}

/** The text of a rule's iRule: our bandwidth block first when the rule has one, then the user's code. */
export function onMatchIRuleText(code: string, bandwidthPolicyName?: string): string {
  if (bandwidthPolicyName === undefined) return code;
  return `when FLOW_INIT priority ${BANDWIDTH_BLOCK_PRIORITY} {\n    BWC::policy attach ${bandwidthPolicyName}\n}\n${code}`;
}

/** iRule text as AS3 carries it: base64, so AS3 expansion and Terraform templates never see it. */
export function encodeIRule(text: string): { base64: string } {
  return { base64: Buffer.from(text, 'utf8').toString('base64') };
}

/** The text of an AS3 `iRule.iRule` value: a string or `{ base64 }` (others: undefined). */
export function decodeIRule(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { base64?: unknown }).base64 === 'string') {
    return Buffer.from((value as { base64: string }).base64, 'base64').toString('utf8');
  }
  return undefined;
}

/** A one-line description of a rule's iRule for tools: `file tag.tcl, sha256 1a2b3c4d5e6f`. */
export function iRuleLabel(m: IRuleModel): string {
  return `${m.source}, sha256 ${m.sha256.slice(0, 12)}`;
}

/** Validates an EgressIRule a rule received; every problem becomes an issue on the field. */
export const onMatchSchema = z.unknown().transform((v, ctx): IRuleModel | undefined => {
  if (!isEgressIRule(v)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected an EgressIRule made with its static factories, such as EgressIRule.fromFile("tag-flows.tcl")',
      params: { quotedValue: typeof v === 'string' ? excerpt(v) : describe(v) },
    });
    return undefined;
  }
  const args = ARGUMENTS.get(v) as IRuleArguments;
  if (args.problem || typeof args.code !== 'string') {
    ctx.addIssue({
      code: 'custom',
      message: args.problem ?? `the code must be a string, not ${describe(args.code)}`,
      params: { quotedValue: args.call },
    });
    return undefined;
  }
  const code = normaliseIRule(args.code);
  const problems = iRuleProblems(code);
  for (const p of problems) ctx.addIssue({ code: 'custom', message: p.message, params: { quotedValue: `${p.at} in ${args.call}` } });
  if (problems.length) return undefined;
  return { code, source: args.source, sha256: createHash('sha256').update(code).digest('hex') };
});
