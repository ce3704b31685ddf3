/**
 * The one way the tool reads a file it is given (CES manifests, flows, cluster state,
 * kubeconfig, the synth output): bounded in size, strict UTF-8, and for YAML bounded in nesting
 * and aliases, so that a hostile or broken file is bad input (exit code 2, one line) and never a
 * hang, a crash or an exhausted heap.
 *
 * The YAML library holds a whole document in memory twice (syntax tree and nodes), at up to 500
 * bytes per token, and its duplicate-key check is quadratic in the keys of one mapping; hence the
 * token limit (about 1 GB and 10 s at most), and the duplicate keys are checked here instead, in
 * linear time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Composer, Document, Lexer, LineCounter, Node, Parser, isAlias, isCollection, isMap, isPair, isScalar, isSeq } from 'yaml';
import { UsageError } from './usage-error';
import { quote } from './text';

const MIB = 1024 * 1024;

/** What the tool reads, at most. */
export const INPUT_LIMITS = {
  /** Bytes of one YAML file. */
  yamlBytes: 16 * MIB,
  /** Tokens (keys, values, punctuation) of one YAML file: a few thousand pods. */
  yamlTokens: 3_000_000,
  /** Bytes of one JSON file of the synth output (parsed far more cheaply than YAML). */
  jsonBytes: 64 * MIB,
  /** Nested mappings and sequences in one document. */
  depth: 64,
  /** Aliases (`*name`) in one YAML document. */
  aliases: 100,
  /** Nodes that aliases may add to one YAML document when expanded. */
  aliasNodes: 10_000,
} as const;

/** A file the user names, for messages. */
export interface InputFile {
  /** As the user wrote it. */
  readonly file: string;
  /** `the --state file`, `the CES manifest file`. */
  readonly role: string;
  /** How to write a good one (the fix of a missing or oversized file). */
  readonly howTo: string;
  /** The fix of a file that is not UTF-8. @default - save it as UTF-8 */
  readonly encodingFix?: string;
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

/** Offset of the first byte that is not part of well-formed UTF-8, or -1. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points above U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}

function readError(input: InputFile, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'it does not exist'
      : code === 'EISDIR'
        ? 'it is a directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'it may not be read (permission denied)'
          : `${code ?? 'error'}: ${(e as Error).message}`;
  return new UsageError(`cannot read ${input.role}`, quote(input.file), `${why}; ${input.howTo}`);
}

/** Reads at most `max` bytes (plus one, to tell a larger file); pipes and devices included. */
function readBounded(full: string, input: InputFile, max: number): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(full, 'r');
  } catch (e) {
    throw readError(input, e);
  }
  const tooLarge = (size: string) =>
    new UsageError(
      `${input.role} is larger than ${mib(max)}`,
      `${quote(input.file)}, ${size}`,
      `the tool reads files of at most ${mib(max)}; ${input.howTo}`,
    );
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw readError(input, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    if (stat.isFile() && stat.size > max) throw tooLarge(mib(stat.size));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(MIB, max + 1 - total));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > max) throw tooLarge(`more than ${mib(max)}`);
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw readError(input, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** The text of a file: at most `maxBytes`, well-formed UTF-8 (a byte-order mark is dropped). */
export function readTextFile(input: InputFile, cwd: string, maxBytes: number): string {
  const bytes = readBounded(path.resolve(cwd, input.file), input, maxBytes);
  const bad = invalidUtf8Offset(bytes);
  if (bad >= 0) {
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    throw new UsageError(
      `${input.file}:${line}: ${input.role} is not UTF-8 text`,
      `byte 0x${bytes[bad].toString(16).padStart(2, '0')} at offset ${bad}`,
      input.encodingFix ??
        (utf16
          ? 'it is UTF-16 (as PowerShell\'s ">" writes); save it as UTF-8, such as with "Out-File -Encoding utf8"'
          : `check that ${input.file} is the file you meant: it must be text, saved as UTF-8`),
    );
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/** Whether `value` nests mappings and arrays deeper than `max` (without recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A JSON file of the synth output (`file` relative to `cwd`, as messages name it). */
export function readJsonFile(file: string, cwd: string, howTo: string): unknown {
  const text = readTextFile(
    { file, role: 'the synth output file', howTo, encodingFix: `cdktf writes UTF-8: the output is damaged; ${howTo}` },
    cwd,
    INPUT_LIMITS.jsonBytes,
  );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON`, quote((e as Error).message), howTo);
  }
  if (nestedDeeperThan(value, INPUT_LIMITS.depth)) {
    throw new UsageError(
      `${file} nests deeper than ${INPUT_LIMITS.depth} levels`,
      'a deeper structure',
      `no synth output nests that deep; ${howTo}`,
    );
  }
  return value;
}

/** One YAML document of a file. */
export interface YamlDocument {
  /** 1-based. */
  readonly index: number;
  /** Line where its content starts. */
  readonly line: number;
  /** Why the document cannot be read (a syntax error or a limit); `value` is then undefined. */
  readonly error?: YamlProblem;
  readonly value: unknown;
  /** Lines of the entries of its top-level `items` sequence (a Kubernetes List), in order. */
  readonly itemLines: readonly number[];
}

/** What is wrong with a document: `document 2 <problem> (got <value>); <fix>`. */
export interface YamlProblem {
  readonly line: number;
  readonly problem: string;
  readonly value: string;
  readonly fix: string;
}

class DocumentProblem extends Error {
  constructor(
    readonly offset: number | undefined,
    readonly problem: string,
    readonly value: string,
    readonly fix: string,
  ) {
    super(problem);
  }
}

/** The usage error for a document that cannot be read. */
export function yamlDocumentError(file: string, doc: YamlDocument & { error: YamlProblem }): UsageError {
  return new UsageError(`${file}:${doc.error.line}: document ${doc.index} ${doc.error.problem}`, doc.error.value, doc.error.fix);
}

/** Tags of the YAML 1.2 core schema; any other (`!!binary`, `!!set`, `!custom`) changes what a value is. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/** Stack depth of the YAML parser beyond which a document is certainly nested too deep. */
const PARSER_STACK_LIMIT = 2 * INPUT_LIMITS.depth + 4;

/**
 * Checks what the YAML library does not (or not in linear time): nesting depth, the number of
 * aliases, aliases inside their own anchor (a cycle), the size aliases expand to, duplicate keys,
 * keys that are not scalars and tags outside the core schema. Iterative, so that a deep document
 * cannot overflow the stack here.
 */
function checkDocument(doc: Document.Parsed): void {
  const root = doc.contents;
  if (!root) return;
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  const open: Node[] = [];
  let aliases = 0;
  let direct = 0;
  type Step = { node: Node; exit: boolean };
  const steps: Step[] = [{ node: root, exit: false }];
  while (steps.length) {
    const { node, exit } = steps.pop() as Step;
    const at = node.range?.[0];
    if (exit) {
      open.pop();
      let size = 1;
      for (const child of children(node)) size += sizes.get(child) ?? 1;
      sizes.set(node, size);
      continue;
    }
    direct++;
    if (isAlias(node)) {
      if (++aliases > INPUT_LIMITS.aliases)
        throw new DocumentProblem(
          at,
          `has more than ${INPUT_LIMITS.aliases} aliases`,
          `*${node.source}`,
          'write the values out, or repeat fewer of them with anchors and aliases',
        );
      const target = anchors.get(node.source);
      if (!target)
        throw new DocumentProblem(
          at,
          'has an alias to no anchor before it',
          `*${node.source}`,
          `define &${node.source} before its first use`,
        );
      if (open.includes(target))
        throw new DocumentProblem(
          at,
          'has an alias inside its own anchor (a cycle)',
          `*${node.source}`,
          `an alias may only repeat a finished node: move *${node.source} out of &${node.source}`,
        );
      sizes.set(node, sizes.get(target) ?? 1);
      continue;
    }
    if (node.anchor) anchors.set(node.anchor, node);
    if (node.tag && !CORE_TAGS.has(node.tag))
      throw new DocumentProblem(at, 'has a tag outside the YAML core schema', quote(node.tag), 'write the value without the tag');
    // Scalars count 1 (not stored: a large document has a million of them).
    if (!isCollection(node)) continue;
    if (open.length + 1 > INPUT_LIMITS.depth)
      throw new DocumentProblem(
        at,
        `nests mappings and lists more than ${INPUT_LIMITS.depth} levels deep`,
        `${open.length + 1} levels`,
        'no Kubernetes object nests that deep; check that this is the file you meant',
      );
    if (isMap(node)) {
      const keys = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (key !== null && !isScalar(key))
          throw new DocumentProblem(
            key.range?.[0] ?? at,
            'has a mapping key that is not a plain value',
            isAlias(key) ? 'an alias' : isMap(key) ? 'a mapping' : 'a list',
            'write text keys',
          );
        const name = key === null || key.value === null ? '' : String(key.value);
        if (keys.has(name))
          throw new DocumentProblem(key?.range?.[0] ?? at, 'has a key twice in one mapping', quote(name), 'keep one of them');
        keys.add(name);
      }
    }
    open.push(node);
    steps.push({ node, exit: true });
    const kids = children(node);
    for (let i = kids.length - 1; i >= 0; i--) steps.push({ node: kids[i], exit: false });
  }
  const expanded = sizes.get(root) ?? 0;
  if (expanded - direct > INPUT_LIMITS.aliasNodes) {
    throw new DocumentProblem(
      root.range?.[0],
      `grows by more than ${INPUT_LIMITS.aliasNodes} values when its aliases are expanded`,
      `${expanded > 1e9 ? 'more than a billion' : expanded} values from ${direct} written`,
      'write the values out instead of nesting aliases',
    );
  }
}

function children(node: Node): Node[] {
  if (!isCollection(node)) return [];
  const out: Node[] = [];
  for (const item of node.items) {
    if (isPair(item)) {
      if (item.key !== null && isScalar(item.key)) out.push(item.key as Node);
      if (item.value !== null && item.value !== undefined) out.push(item.value as Node);
    } else if (item) {
      out.push(item as Node);
    }
  }
  return out;
}

/**
 * Every document of YAML `text` (of `file`), each checked and converted, or with the reason it
 * cannot be. Too many tokens, or a nesting so deep that the parser itself would overflow, end
 * the whole file; `howTo` is then the fix.
 */
export function parseYamlDocuments(text: string, file: string, howTo = 'split it into smaller files'): YamlDocument[] {
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  // YAML 1.2 core schema: plain values are text, numbers, booleans and null, as kubectl writes them.
  const composer = new Composer({ version: '1.2', schema: 'core', uniqueKeys: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lines.linePos(offset).line);
  function* tokens() {
    lines.addNewLine(0);
    let count = 0;
    for (const lexeme of new Lexer().lex(text)) {
      if (++count > INPUT_LIMITS.yamlTokens) {
        throw new UsageError(
          `${file}:${lineOf(parser.offset)}: the YAML has more than ${INPUT_LIMITS.yamlTokens.toLocaleString('en-US')} tokens`,
          `${mib(text.length)} of text`,
          `the tool reads at most that many; ${howTo}`,
        );
      }
      yield* parser.next(lexeme);
      if (parser.stack.length > PARSER_STACK_LIMIT) {
        throw new UsageError(
          `${file}:${lineOf(parser.offset)}: the YAML nests more than ${INPUT_LIMITS.depth} levels deep`,
          'a deeper structure',
          'no Kubernetes object nests that deep; check that this is the file you meant',
        );
      }
    }
    yield* parser.end();
  }
  const out: YamlDocument[] = [];
  for (const doc of composer.compose(tokens())) {
    const index = out.length + 1;
    const line = lineOf(doc.contents?.range?.[0] ?? doc.range[0]);
    const failed = (offset: number | undefined, problem: string, value: string, fix: string): YamlDocument => ({
      index,
      line,
      error: { line: lineOf(offset), problem, value, fix },
      value: undefined,
      itemLines: [],
    });
    if (doc.errors.length) {
      const e = doc.errors[0];
      out.push(failed(e.pos[0], 'is not valid YAML', quote(e.message.split('\n')[0]), 'fix the YAML syntax'));
      continue;
    }
    try {
      checkDocument(doc);
    } catch (e) {
      if (!(e instanceof DocumentProblem)) throw e;
      out.push(failed(e.offset, e.problem, e.value, e.fix));
      continue;
    }
    // Aliases were bounded above, more tightly than the library's own heuristic.
    const value = doc.toJS({ maxAliasCount: -1 }) as unknown;
    const items = isMap(doc.contents) ? doc.contents.get('items', true) : undefined;
    const itemLines = isSeq(items) ? items.items.map((i) => lineOf((i as Node).range?.[0])) : [];
    out.push({ index, line, value, itemLines });
  }
  return out;
}

/** Reads and parses a YAML file within {@link INPUT_LIMITS}. */
export function readYamlFile(input: InputFile, cwd: string): YamlDocument[] {
  return parseYamlDocuments(readTextFile(input, cwd, INPUT_LIMITS.yamlBytes), input.file, input.howTo);
}

/** Writes `text` to the file `-o` names (relative to `cwd`); a file that cannot be written is bad input. */
export function writeOutputFile(file: string, cwd: string, text: string): void {
  try {
    fs.writeFileSync(path.resolve(cwd, file), text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'its folder does not exist'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'it may not be written (permission denied)'
            : `${code ?? 'error'}: ${(e as Error).message}`;
    throw new UsageError('cannot write the -o file', quote(file), `${why}; write elsewhere`);
  }
}
