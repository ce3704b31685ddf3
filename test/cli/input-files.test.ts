/**
 * The input limits at their edges, the UTF-8 check against Node's decoder, and the escaping of
 * text for the terminal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { INPUT_LIMITS, invalidUtf8Offset, nestedDeeperThan, parseYamlDocuments, readTextFile } from '../../lib/files/input-files';
import { UsageError } from '../../lib/files/usage-error';
import { printable, quote } from '../../lib/files/text';

const problemOf = (text: string) => parseYamlDocuments(text, 'x.yaml').map((d) => d.error?.problem);

describe('YAML limits, at the edge', () => {
  const flow = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const block = (n: number) => `${Array.from({ length: n }, (_, i) => `${'  '.repeat(i)}- k:`).join('\n')} 1\n`;

  test('64 levels of nesting are read, 65 are not (flow and block style)', () => {
    expect(problemOf(flow(64))).toEqual([undefined]);
    expect(problemOf(flow(65))).toEqual(['nests mappings and lists more than 64 levels deep']);
    // `- k:` nests a list and a mapping per line.
    expect(problemOf(block(32))).toEqual([undefined]);
    expect(problemOf(block(33))).toEqual(['nests mappings and lists more than 64 levels deep']);
  });

  test('nesting far deeper than the limit ends the file before the YAML library recurses into it', () => {
    expect(() => parseYamlDocuments(flow(1_000_000), 'deep.yaml')).toThrow(
      new UsageError(
        'deep.yaml:1: the YAML nests more than 64 levels deep',
        'a deeper structure',
        'no Kubernetes object nests that deep; check that this is the file you meant',
      ),
    );
  });

  test('100 aliases are read, 101 are not', () => {
    const aliases = (n: number) => `a: &a x\nb: [${Array(n).fill('*a').join(', ')}]\n`;
    expect(parseYamlDocuments(aliases(100), 'x.yaml')[0].value).toEqual({ a: 'x', b: Array(100).fill('x') });
    expect(parseYamlDocuments(aliases(101), 'x.yaml')[0].error).toEqual({
      line: 2,
      problem: 'has more than 100 aliases',
      value: '*a',
      fix: 'write the values out, or repeat fewer of them with anchors and aliases',
    });
  });

  test('aliases may add 10,000 values to a document, not one more', () => {
    const list = (n: number) => `[${Array(n).fill('1').join(',')}]`;
    // Each alias to &a (a list of 100 values, 101 nodes) adds 100; to &c, 101.
    const anchors = `a: &a ${list(100)}\nc: &c ${list(101)}\n`;
    expect(problemOf(`${anchors}b: [${Array(100).fill('*a').join(',')}]\n`)).toEqual([undefined]);
    expect(parseYamlDocuments(`${anchors}b: [${[...Array(99).fill('*a'), '*c'].join(',')}]\n`, 'x.yaml')[0].error).toEqual({
      line: 1,
      problem: 'grows by more than 10000 values when its aliases are expanded',
      value: '10309 values from 308 written',
      fix: 'write the values out instead of nesting aliases',
    });
  });

  test('every document is checked on its own; the others are still read', () => {
    const docs = parseYamlDocuments('a: 1\n---\na: &x [*x]\n---\n- b\n', 'x.yaml');
    expect(docs.map((d) => [d.index, d.line, d.error?.problem, d.value])).toEqual([
      [1, 1, undefined, { a: 1 }],
      [2, 3, 'has an alias inside its own anchor (a cycle)', undefined],
      [3, 5, undefined, ['b']],
    ]);
  });

  test("duplicate keys are found in linear time: a mapping of 200,000 keys (the library's own check is quadratic)", () => {
    const keys = Array.from({ length: 200_000 }, (_, i) => `k${i}: v`);
    expect(problemOf(`${keys.join('\n')}\n`)).toEqual([undefined]);
    expect(parseYamlDocuments(`${keys.join('\n')}\nk7: again\n`, 'x.yaml')[0].error).toEqual({
      line: 200_001,
      problem: 'has a key twice in one mapping',
      value: '"k7"',
      fix: 'keep one of them',
    });
  });

  test('keys that collide once read ("1" and 1) are duplicates', () => {
    expect(problemOf('1: a\n"1": b\n')).toEqual(['has a key twice in one mapping']);
  });

  test('YAML 1.1 is read as 1.2: no merge keys, timestamps or yes/no booleans', () => {
    expect(parseYamlDocuments('%YAML 1.1\n---\na: {x: 1}\nb:\n  <<: {y: 2}\nc: 2026-01-01\nd: yes\n', 'x.yaml')[0].value).toEqual({
      a: { x: 1 },
      b: { '<<': { y: 2 } },
      c: '2026-01-01',
      d: 'yes',
    });
  });

  test('the lines of the items of a List', () => {
    expect(parseYamlDocuments('kind: List\nitems:\n- a: 1\n\n- b: 2\n- 3\n', 'x.yaml')[0].itemLines).toEqual([3, 5, 6]);
  });

  test('a key named __proto__ is an own key, not the prototype', () => {
    const value = parseYamlDocuments('__proto__: {kind: Pod}\n', 'x.yaml')[0].value as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect((value as { kind?: unknown }).kind).toBeUndefined();
  });
});

describe('file size', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-input-'));
  const input = (file: string) => ({ file, role: 'the test file', howTo: 'make a smaller one' });

  test('a file of the limit is read; one byte more is not', () => {
    fs.writeFileSync(path.join(dir, 'at.yaml'), 'a'.repeat(1000));
    fs.writeFileSync(path.join(dir, 'over.yaml'), 'a'.repeat(1001));
    expect(readTextFile(input('at.yaml'), dir, 1000)).toHaveLength(1000);
    expect(() => readTextFile(input('over.yaml'), dir, 1000)).toThrow(
      new UsageError(
        'the test file is larger than 0.0 MiB',
        '"over.yaml", 0.0 MiB',
        'the tool reads files of at most 0.0 MiB; make a smaller one',
      ),
    );
  });

  test('a stream without end stops at the limit', () => {
    expect(() => readTextFile(input('/dev/zero'), dir, 1000)).toThrow(
      'the test file is larger than 0.0 MiB (got "/dev/zero", more than 0.0 MiB)',
    );
  });

  test('a byte-order mark is dropped', () => {
    fs.writeFileSync(path.join(dir, 'bom.yaml'), '\ufeffkind: Pod\n');
    expect(readTextFile(input('bom.yaml'), dir, 1000)).toBe('kind: Pod\n');
  });

  test('the limits', () => {
    expect(INPUT_LIMITS).toEqual({
      yamlBytes: 16 * 1024 * 1024,
      yamlTokens: 3_000_000,
      jsonBytes: 64 * 1024 * 1024,
      depth: 64,
      aliases: 100,
      aliasNodes: 10_000,
    });
  });
});

describe('UTF-8', () => {
  const decoderSays = (b: Uint8Array) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b);
      return true;
    } catch {
      return false;
    }
  };

  test('agrees with the WHATWG decoder on random bytes and on random text', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
      fc
        .array(fc.constantFrom(0x41, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90), {
          maxLength: 12,
        })
        .map((a) => new Uint8Array(a)),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const offset = invalidUtf8Offset(b);
        expect(offset === -1).toBe(decoderSays(b));
        // Everything before the offset is well-formed.
        if (offset >= 0) expect(invalidUtf8Offset(b.subarray(0, offset))).toBe(-1);
      }),
      { numRuns: 2000 },
    );
  });

  test.each([
    ['an overlong slash', [0xc0, 0xaf], 0],
    ['a surrogate', [0x61, 0xed, 0xa0, 0x80], 1],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a cut sequence', [0x61, 0x62, 0xe2, 0x82], 2],
    ['a lone continuation byte', [0x80], 0],
  ])('%s', (_what, bytes, offset) => {
    expect(invalidUtf8Offset(new Uint8Array(bytes))).toBe(offset);
  });
});

describe('printable', () => {
  test.each([
    ['ESC (clear screen)', '\x1b[2J', '\\u001b[2J'],
    ['an OSC title sequence ended by BEL', '\x1b]0;owned\x07', '\\u001b]0;owned\\u0007'],
    ['CR (overwrites the line)', 'ok\rFAIL', 'ok\\rFAIL'],
    ['backspace and DEL', 'a\bb\x7f', 'a\\u0008b\\u007f'],
    ['C1 CSI and NEL', '\u009b2J\u0085', '\\u009b2J\\u0085'],
    ['bidi overrides U+202A-U+202E', '\u202a\u202b\u202c\u202d\u202e', '\\u202a\\u202b\\u202c\\u202d\\u202e'],
    ['bidi isolates U+2066-U+2069', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    ['zero-width characters', 'a\u200bb\u200cc\u200dd\u2060e\ufeff', 'a\\u200bb\\u200cc\\u200dd\\u2060e\\ufeff'],
    ['line and paragraph separators', '\u2028\u2029', '\\u2028\\u2029'],
    ['a tag character (U+E0041) as a surrogate pair', '\u{e0041}', '\\udb40\\udc41'],
    ['a lone surrogate', 'a\ud800b', 'a\\ud800b'],
    ['tab and newline (one line)', 'a\tb\nc', 'a\\tb\\nc'],
    ['text the tool writes itself', 'payments/checkout → api.stripe.com:443 …', 'payments/checkout → api.stripe.com:443 …'],
  ])('%s', (_what, text, escaped) => {
    expect(printable(text)).toBe(escaped);
  });

  test('keeps line feeds when asked, and nothing else', () => {
    expect(printable('a\nb\r\n\x1b', true)).toBe('a\nb\\r\n\\u001b');
  });

  test('inside JSON output the escapes read back as the same text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const json = printable(JSON.stringify({ s }), true);
        expect(json).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
        expect(JSON.parse(json)).toEqual({ s });
      }),
    );
  });

  test('is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.boolean(), (s, keep) =>
        expect(printable(printable(s, keep), keep)).toBe(printable(s, keep)),
      ),
    );
  });
});

describe('quote', () => {
  test.each([
    ['nothing', undefined, 'nothing'],
    ['text', 'x', '"x"'],
    ['a mapping', { a: [1, null] }, '{"a":[1,null]}'],
    ['a BigInt', 10n, '10'],
    ['long text, cut', 'y'.repeat(200), `"${'y'.repeat(98)}…`],
  ])('%s', (_what, value, text) => {
    expect(quote(value)).toBe(text);
  });

  test('a circular structure does not throw', () => {
    const a: unknown[] = [];
    a.push(a);
    expect(quote(a)).toBe('a list');
  });
});

test('nestedDeeperThan has no recursion to overflow', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  expect(nestedDeeperThan(deep, 64)).toBe(true);
  expect(nestedDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
  expect(nestedDeeperThan({ a: [{ b: [] }] }, 3)).toBe(true);
});
