/**
 * The WebDAV `If` request header (RFC 4918 §10.4), sans-IO: a parser from
 * the header's text to lists of conditions, and an evaluator that, given
 * what the caller found out about each resource the header names (its
 * current ETag, the tokens of the locks that cover it), says whether the
 * header holds and which lock tokens it submits.
 *
 * Grammar (RFC 4918 §10.4.2, with LWS allowed between tokens):
 *
 * ```
 * If = ( 1*No-tag-list | 1*Tagged-list )
 * No-tag-list = List
 * Tagged-list = Resource-Tag 1*List
 * List = "(" 1*Condition ")"
 * Condition = ["Not"] (State-token | "[" entity-tag "]")
 * State-token = Coded-URL = "<" absolute-URI ">"
 * Resource-Tag = "<" Simple-ref ">"; Simple-ref = absolute-URI | path-absolute ["?" query]
 * ```
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { EntityTag } from "../content/preconditions.ts";

/** One condition of a list: a state token or an entity-tag, possibly negated. */
export type IfCondition =
  | { not: boolean; kind: "token"; token: string }
  | { not: boolean; kind: "etag"; etag: EntityTag };

/** One parenthesised list: a conjunction of conditions on one resource. */
export interface IfList {
  /** The Resource-Tag's text (an absolute URI or an absolute path), or null for the request URI. */
  resource: string | null;
  /** The conditions, all of which must hold. */
  conditions: IfCondition[];
}

/** A parsed `If` header: a disjunction of its lists. */
export interface IfHeader {
  /** Every list in order; all untagged or all tagged. */
  lists: IfList[];
}

/** What the server knows of one resource an `If` header names. */
export interface ResourceState {
  /** Its current strong entity-tag, quotes included, or null (unmapped, or a collection). */
  etag: string | null;
  /** The tokens of the locks that cover it (its current state tokens). */
  lockTokens: readonly string[];
}

/** What an `If` header says about a request. */
export interface IfVerdict {
  /** Whether some list holds (false: the request fails with 412). */
  holds: boolean;
  /**
   * The lock tokens the header submits: those named (not under `Not`) in a
   * list that holds, so a token only counts where it was proven current.
   */
  submitted: Set<string>;
}

/** `scheme ":" rest`: the absolute-URI of a state token, checked for its shape only. */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e\x80-\xff]*$/;

/** A Resource-Tag: an absolute URI or an absolute path with an optional query. */
const SIMPLE_REF = /^(?:[A-Za-z][A-Za-z0-9+.-]*:|\/)[\x21-\x7e\x80-\xff]*$/;

function malformed(why: string): HttpError {
  return new HttpError(400, `Malformed If header: ${why}`);
}

/**
 * Parses an `If` header value. Throws {@linkcode HttpError} 400 for anything
 * the grammar does not allow: an empty header or list, tagged and untagged
 * lists mixed, a tag without a list, a state token that is not an absolute
 * URI, a malformed entity-tag, stray characters.
 *
 * @example
 * ```ts
 * parseIfHeader('(<urn:uuid:a> ["x"]) (Not <DAV:no-lock>)').lists.length; // 2
 * ```
 */
export function parseIfHeader(value: string): IfHeader {
  const lists: IfList[] = [];
  let tagged: boolean | null = null;
  let resource: string | null = null;
  /** Whether the current Resource-Tag has had a list yet. */
  let tagHasList = true;
  let position = skipLws(value, 0);
  if (position === value.length) throw malformed("empty");
  while (position < value.length) {
    const char = value[position];
    if (char === "<") {
      if (tagged === false) throw malformed("a Resource-Tag after untagged lists");
      if (!tagHasList) throw malformed("a Resource-Tag without a list");
      const end = value.indexOf(">", position + 1);
      if (end < 0) throw malformed("an unclosed Resource-Tag");
      const ref = value.slice(position + 1, end);
      if (!SIMPLE_REF.test(ref)) throw malformed("a Resource-Tag that is not a URI");
      tagged = true;
      resource = ref;
      tagHasList = false;
      position = end + 1;
    } else if (char === "(") {
      if (tagged === null) tagged = false;
      const list = parseList(value, position + 1);
      lists.push({ resource, conditions: list.conditions });
      tagHasList = true;
      position = list.end;
    } else {
      throw malformed(`unexpected ${JSON.stringify(char)}`);
    }
    position = skipLws(value, position);
  }
  if (!tagHasList) throw malformed("a Resource-Tag without a list");
  return { lists };
}

/** Parses the conditions after a list's "(" at `start`, through its ")". */
function parseList(value: string, start: number): { conditions: IfCondition[]; end: number } {
  const conditions: IfCondition[] = [];
  let position = skipLws(value, start);
  while (value[position] !== ")") {
    if (position >= value.length) throw malformed("an unclosed list");
    let not = false;
    if (value.slice(position, position + 3).toLowerCase() === "not") {
      not = true;
      position = skipLws(value, position + 3);
    }
    const char = value[position];
    if (char === "<") {
      const end = value.indexOf(">", position + 1);
      if (end < 0) throw malformed("an unclosed state token");
      const token = value.slice(position + 1, end);
      if (!ABSOLUTE_URI.test(token)) throw malformed("a state token that is not an absolute URI");
      conditions.push({ not, kind: "token", token });
      position = end + 1;
    } else if (char === "[") {
      const scanned = scanEntityTag(value, position + 1);
      conditions.push({ not, kind: "etag", etag: scanned.tag });
      position = scanned.end;
    } else {
      throw malformed(not ? "Not without a condition" : "a list without conditions");
    }
    position = skipLws(value, position);
  }
  if (conditions.length === 0) throw malformed("an empty list");
  return { conditions, end: position + 1 };
}

/**
 * Reads `[W/]"opaque"]` at `start`, through the closing bracket. The opaque
 * part is RFC 2616's quoted-string, as RFC 4918 has it (its own examples
 * hold spaces): any character but controls, with `\` escaping the next one.
 */
function scanEntityTag(value: string, start: number): { tag: EntityTag; end: number } {
  const weak = value.startsWith("W/", start);
  let position = weak ? start + 2 : start;
  if (value[position] !== '"') throw malformed("a bad entity-tag");
  let tag = "";
  for (position++; position < value.length && value[position] !== '"'; position++) {
    if (value[position] === "\\") position++;
    const code = value.charCodeAt(position);
    if (Number.isNaN(code) || code < 0x20 || code === 0x7f) throw malformed("a bad entity-tag");
    tag += value[position];
  }
  if (value[position] !== '"' || value[position + 1] !== "]") throw malformed("a bad entity-tag");
  return { tag: { weak, tag }, end: position + 2 };
}

/** The index of the first character at or after `position` that is not SP or HTAB. */
function skipLws(value: string, position: number): number {
  while (value[position] === " " || value[position] === "\t") position++;
  return position;
}

/**
 * The Resource-Tags of a header's tagged lists, each once: the resources
 * whose state the caller must find before {@linkcode evaluateIf}.
 */
export function taggedResources(header: IfHeader): string[] {
  return [...new Set(header.lists.flatMap((list) => list.resource ?? []))];
}

/**
 * Evaluates a parsed header (RFC 4918 §10.4.3-10.4.4): a list holds when
 * every condition does; the header holds when some list does. A state token
 * holds when it is one of the resource's lock tokens (so `<DAV:no-lock>`
 * never does); an entity-tag when it matches the resource's strongly, as
 * If-Match does: both strong, the same opaque-tag (an unmapped resource has
 * none, so only `Not [...]` holds there).
 *
 * @param header the parsed header
 * @param stateOf the state of a list's resource: `null` is the request URI,
 *   otherwise a Resource-Tag as written
 */
export function evaluateIf(
  header: IfHeader,
  stateOf: (resource: string | null) => ResourceState,
): IfVerdict {
  let holds = false;
  const submitted = new Set<string>();
  for (const list of header.lists) {
    const state = stateOf(list.resource);
    const listHolds = list.conditions.every((condition) => {
      const matches = condition.kind === "token"
        ? state.lockTokens.includes(condition.token)
        : !condition.etag.weak && state.etag === `"${condition.etag.tag}"`;
      return matches !== condition.not;
    });
    if (!listHolds) continue;
    holds = true;
    for (const condition of list.conditions) {
      if (condition.kind === "token" && !condition.not) submitted.add(condition.token);
    }
  }
  return { holds, submitted };
}
