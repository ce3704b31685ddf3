/**
 * Text from input files and arguments on its way to the terminal. Names, keys, labels and
 * error messages quoting the input are the user's (or an attacker's) bytes: a terminal escape
 * in a label must be shown, not obeyed, and a right-to-left override must not reorder a line.
 */

/**
 * Controls (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width
 * characters, soft hyphen, tags), line and paragraph separators and lone surrogates.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const short = SHORT[c];
  if (short) return short;
  // \uXXXX (a surrogate pair above U+FFFF) is the same character again inside JSON output.
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/**
 * `text` with every unprintable character written as an escape (`\u001b`, `\u202e`, `\r`),
 * so it reaches a terminal or log as visible text. Line feeds stay when `keepNewlines` (a
 * report of several lines), else they are escaped too (one line).
 */
export function printable(text: string, keepNewlines = false): string {
  return text.replace(UNPRINTABLE, (c) => (keepNewlines && c === '\n' ? c : escapeChar(c)));
}

/** Longest quoted value in a message, in characters. */
export const MAX_QUOTED = 100;

/**
 * A value as a message quotes it: JSON, cut to {@link MAX_QUOTED} characters; `nothing` for
 * undefined. Never throws (circular structures, BigInt).
 */
export function quote(value: unknown, max = MAX_QUOTED): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text =
      value instanceof Date
        ? JSON.stringify(Number.isNaN(value.getTime()) ? String(value) : value.toISOString())
        : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Array.isArray(value) ? 'a list' : typeof value === 'object' && value !== null ? 'a mapping' : String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
