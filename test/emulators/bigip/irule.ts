/**
 * What AS3 does with the text of an `iRule` class before mcpd stores it as `ltm rule`
 * (`api-anonymous`), from AS3 3.56 (F5Networks/f5-appsvcs-extension, commit b44d5a03):
 *
 * - The value is an F5_String: a string, or an object with `base64`, `text`, `url` or `copyFrom`
 *   (schema `IRule_Core`); the emulator decodes a string, `base64` and `text` and refuses the
 *   others (it fetches nothing).
 * - Backquote expansion (`src/lib/tag/expandTag.js:54-64`) runs only when the value is still a
 *   string (post-processing runs expand before fetch, `src/lib/postProcessor.js:64-83`, so
 *   `base64`/`text` objects are not expanded; inferred from the order, not run upstream) and
 *   only when the sibling `expand` is not false (`when: "1/expand"`, default true). Its scanner,
 *   `backquoteExpand` (`src/lib/util/expandUtil.js:37-242`), throws on an escape it does not
 *   know (`:229`) and on a missing closing backquote (`:73`, `:174`, `:183`). The thrown error
 *   ends the parse ("unable to digest declaration", `src/lib/adcParser.js:298-299`); the
 *   response code is not settled by the source read here, so the emulator answers 422 like an
 *   invalid declaration. Pointer escapes (`*`, `=`, `+`) would look objects up: not modelled,
 *   refused as unmodelled rather than guessed.
 * - `createIRule` (`src/lib/map_as3.js:202-212`) then trims the text, turns CRLF into LF, strips
 *   blanks before every line feed and deletes backslash-newline continuations with the
 *   following indentation.
 */
import { Json, isApplication, isObject, isTenant } from './json';

/** The expansion problem of one text, or undefined (the syntax `backquoteExpand` enforces). */
function expansionProblem(text: string, src: string): string | undefined {
  const bq = '`';
  let i = text.indexOf(bq);
  while (i >= 0) {
    const c = text.charAt(i + 1);
    if ('IFTAYMNOPQC'.includes(c) && c !== '') {
      if (text.charAt(i + 2) !== bq) return `${src} \`${c}\` at ${i}missing second backquote`;
      i = text.indexOf(bq, i + 3);
      continue;
    }
    if (c === bq) {
      i = text.indexOf(bq, i + 2);
      continue;
    }
    if (c === '~') {
      if (text.charAt(i + 2) === bq) return undefined; // stop expanding
      return `${src} \`~\` at ${i} missing second backquote`;
    }
    if (c === '!' || c === '*' || c === '=' || c === '+') {
      const end = text.indexOf(bq, i + 2);
      if (end < 0) return `${src} \`${c}\` at ${i} missing second backquote`;
      if (c !== '!') return `${src} \`${c}${text.slice(i + 2, end)}\`: pointer expansion is not modelled by the emulator`;
      i = text.indexOf(bq, end + 1);
      continue;
    }
    return `${src}  unrecognized escape \`${c}\` at ${i}`;
  }
  return undefined;
}

/** The text of an F5_String value, or a problem. */
function f5StringText(value: unknown): { text: string } | { problem: string } {
  if (typeof value === 'string') return { text: value };
  if (isObject(value) && typeof value.base64 === 'string') return { text: Buffer.from(value.base64, 'base64').toString('utf8') };
  if (isObject(value) && typeof value.text === 'string') return { text: value.text };
  return { problem: `iRule value ${JSON.stringify(value)} is not modelled by the emulator (string, base64 or text)` };
}

/** Every iRule of a declaration that AS3 would refuse to expand or that the emulator cannot read. */
export function iRuleDeclarationErrors(decl: Json): string[] {
  const errors: string[] = [];
  for (const [tenantName, tenant] of Object.entries(decl)) {
    if (!isTenant(tenant)) continue;
    for (const [appName, app] of Object.entries(tenant)) {
      if (!isApplication(app)) continue;
      for (const [itemName, item] of Object.entries(app)) {
        if (!isObject(item) || item.class !== 'iRule') continue;
        const src = `/${tenantName}/${appName}/${itemName}/iRule`;
        const read = f5StringText(item.iRule);
        if ('problem' in read) {
          errors.push(`${src}: ${read.problem}`);
          continue;
        }
        if (item.expand !== false && typeof item.iRule === 'string') {
          const problem = expansionProblem(read.text, src);
          if (problem) errors.push(problem);
        }
      }
    }
  }
  return errors;
}

/** The `ltm rule` text mcpd holds for an AS3 `iRule` item (createIRule's rewriting). */
export function storedIRuleText(item: Json): string {
  const read = f5StringText(item.iRule);
  if ('problem' in read) throw new Error(`BigipEmulator: ${read.problem}`);
  return read.text
    .trim()
    .replace(/\r\n/g, '\n')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\\\n[ \t]+/g, '');
}
