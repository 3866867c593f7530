/**
 * Walking the members of a JSON object in UTF-8 bytes without parsing it:
 * where each member's key and value start and end, its nested values
 * skipped. A string's first bytes are looked at one by one (most keys and
 * values are short, and a loop ends them sooner than a call to the native
 * search); past {@linkcode SHORT_STRING} bytes the native byte search takes
 * over (a long text costs one search, not a loop over its bytes). Private
 * to src/codex/.
 *
 * The text is the backend's, already framed as JSON; a text that is not
 * valid JSON may be walked wrongly, never out of its bounds: every function
 * returns -1 where the text ends too early or holds what it does not expect.
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** The first index at or after `at` that is not JSON white space. */
export function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length && isSpace(bytes[at])) at++;
  return at;
}

/**
 * How many bytes of a string are looked at one by one before the native
 * search takes over: below this, the loop ends a string sooner than the
 * call to `indexOf`.
 */
const SHORT_STRING = 32;

/** Just after the string that opens at `at` (a quote), or -1. */
export function stringEnd(bytes: Uint8Array, at: number): number {
  const short = Math.min(bytes.length, at + 1 + SHORT_STRING);
  let index = at + 1;
  for (; index < short; index++) {
    const byte = bytes[index];
    if (byte === QUOTE) return index + 1;
    // The escaped byte is skipped: an escaped quote does not end the string.
    if (byte === BACKSLASH) index++;
  }
  // `index` is not an escaped byte: a quote from there on ends the string
  // when an even number of backslashes precedes it.
  let quote = bytes.indexOf(QUOTE, index);
  while (quote >= 0) {
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = bytes.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

/** Just after the object or array that opens at `at`, or -1. */
function containerEnd(bytes: Uint8Array, at: number): number {
  let depth = 0;
  for (let index = at; index < bytes.length; index++) {
    const byte = bytes[index];
    if (byte === QUOTE) {
      const end = stringEnd(bytes, index);
      if (end < 0) return -1;
      index = end - 1;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth++;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (--depth === 0) return index + 1;
    }
  }
  return -1;
}

/** Just after the value that starts at `at` (no white space before it), or -1. */
export function valueEnd(bytes: Uint8Array, at: number): number {
  const byte = bytes[at];
  if (byte === undefined) return -1;
  if (byte === QUOTE) return stringEnd(bytes, at);
  if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
    return containerEnd(bytes, at);
  }
  let index = at;
  while (index < bytes.length) {
    const next = bytes[index];
    if (
      next === COMMA || next === CLOSE_BRACE || next === CLOSE_BRACKET ||
      isSpace(next)
    ) {
      break;
    }
    index++;
  }
  return index > at ? index : -1;
}

/** One member of an object: where its key (with quotes) and its value lie. */
export interface Member {
  /** The key's opening quote. */
  keyStart: number;
  /** Just after the key's closing quote. */
  keyEnd: number;
  /** The value's first byte. */
  valueStart: number;
  /** Just after the value. */
  valueEnd: number;
}

/** The members of an object, and where its closing brace lies. */
export interface ObjectMembers {
  /** The members, in order. */
  members: Member[];
  /** The closing brace. */
  close: number;
}

/**
 * Where the walk of the object that opens at `at` (a `{`) starts: its first
 * member's key (an opening quote), or its closing brace when it has none;
 * -1 when no object opens there.
 */
export function firstKey(bytes: Uint8Array, at: number): number {
  if (bytes[at] !== OPEN_BRACE) return -1;
  const index = skipSpace(bytes, at + 1);
  return bytes[index] === QUOTE || bytes[index] === CLOSE_BRACE ? index : -1;
}

/**
 * Where the value of the member whose key ends at `keyEnd` starts (after
 * the colon and white space), or -1.
 */
export function valueAfterKey(bytes: Uint8Array, keyEnd: number): number {
  const colon = skipSpace(bytes, keyEnd);
  if (bytes[colon] !== COLON) return -1;
  return skipSpace(bytes, colon + 1);
}

/**
 * Where the walk of an object goes on after a member's value that ends at
 * `end`: the next member's key (an opening quote) after a comma, or the
 * object's closing brace; -1 when neither follows.
 */
export function nextKey(bytes: Uint8Array, end: number): number {
  const index = skipSpace(bytes, end);
  if (bytes[index] === CLOSE_BRACE) return index;
  if (bytes[index] !== COMMA) return -1;
  const key = skipSpace(bytes, index + 1);
  return bytes[key] === QUOTE ? key : -1;
}

/**
 * The members of the object that opens at `at` (a `{`), or undefined when
 * the text is not an object there. `stopAt`, when given, ends the walk at
 * the first member whose key it accepts, before its value is skipped (the
 * member's `valueEnd` and `close` are then -1). A walk that needs no list
 * of members goes key by key instead ({@linkcode firstKey},
 * {@linkcode valueAfterKey}, {@linkcode valueEnd}, {@linkcode nextKey}).
 */
export function objectMembers(
  bytes: Uint8Array,
  at: number,
  stopAt?: (key: Member) => boolean,
): ObjectMembers | undefined {
  const members: Member[] = [];
  let index = firstKey(bytes, at);
  if (index < 0) return undefined;
  while (bytes[index] !== CLOSE_BRACE) {
    const keyEnd = stringEnd(bytes, index);
    if (keyEnd < 0) return undefined;
    const valueStart = valueAfterKey(bytes, keyEnd);
    if (valueStart < 0) return undefined;
    const member = { keyStart: index, keyEnd, valueStart, valueEnd: -1 };
    // Stopped before its value is skipped: the caller walks into it.
    if (stopAt?.(member)) {
      members.push(member);
      return { members, close: -1 };
    }
    const end = valueEnd(bytes, valueStart);
    if (end < 0) return undefined;
    member.valueEnd = end;
    members.push(member);
    index = nextKey(bytes, end);
    if (index < 0) return undefined;
  }
  return { members, close: index };
}

/** Whether `bytes` holds `part` at `at`. */
export function bytesAt(
  bytes: Uint8Array,
  at: number,
  part: Uint8Array,
): boolean {
  if (at < 0 || at + part.length > bytes.length) return false;
  for (let index = 0; index < part.length; index++) {
    if (bytes[at + index] !== part[index]) return false;
  }
  return true;
}
