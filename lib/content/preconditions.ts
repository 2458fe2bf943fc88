/**
 * Conditional requests (RFC 9110 §13): evaluating If-Match,
 * If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range against
 * the current validators of a resource.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import { parseHttpDate } from "../http/date.ts";
import type { StoredEntry, WriteCondition } from "../storage/storage.ts";

/** What the server knows about the selected representation. */
export interface Validators {
  /** The entity-tag as sent in `ETag`, quotes included: `"5f1a-3e8-17b4c2d"`. */
  etag: string;
  /** Modification time in ms since the epoch; HTTP sees it in whole seconds. */
  lastModified: number;
}

/** The conditional request header values; `undefined` when absent. */
export interface ConditionalHeaders {
  /** `If-Match` */
  ifMatch?: string;
  /** `If-None-Match` */
  ifNoneMatch?: string;
  /** `If-Modified-Since` */
  ifModifiedSince?: string;
  /** `If-Unmodified-Since` */
  ifUnmodifiedSince?: string;
  /** `If-Range` */
  ifRange?: string;
}

/**
 * What to do with the request: `proceed` (serve or write normally),
 * `not-modified` (304, only for GET and HEAD) or `precondition-failed` (412).
 */
export type PreconditionOutcome = "proceed" | "not-modified" | "precondition-failed";

/** One entity-tag (RFC 9110 §8.8.3). */
export interface EntityTag {
  /** Whether it carried the `W/` prefix. */
  weak: boolean;
  /** The opaque-tag without its quotes. */
  tag: string;
}

/**
 * The verdict of one precondition: `none` when its header is absent or must be
 * ignored, otherwise whether the condition holds.
 */
type Condition = "none" | "pass" | "fail";

/**
 * Evaluates the preconditions in the order of RFC 9110 §13.2.2:
 * 1. If-Match; only when it is absent, If-Unmodified-Since. False → 412.
 * 2. If-None-Match; only when it is absent, If-Modified-Since (GET and HEAD
 *    only). False → 304 for GET and HEAD, 412 for other methods.
 *
 * If-Range is not part of this: it only decides whether a Range is honoured,
 * see {@link ifRangeAllowsRange}.
 *
 * @param method the request method (case-sensitive, as methods are)
 * @param headers the conditional header values
 * @param current the validators, `null` when the resource does not exist
 *
 * @example
 * ```ts
 * const current = { etag: '"a"', lastModified: 784111777000 };
 * checkPreconditions("GET", { ifNoneMatch: '"a"' }, current); // "not-modified"
 * checkPreconditions("PUT", { ifNoneMatch: "*" }, current); // "precondition-failed"
 * ```
 */
export function checkPreconditions(
  method: string,
  headers: ConditionalHeaders,
  current: Validators | null,
): PreconditionOutcome {
  const ifMatch = checkIfMatch(headers.ifMatch, current);
  if (ifMatch === "fail") return "precondition-failed";
  if (ifMatch === "none" && checkIfUnmodifiedSince(headers.ifUnmodifiedSince, current) === "fail") {
    return "precondition-failed";
  }
  const isGetOrHead = method === "GET" || method === "HEAD";
  const ifNoneMatch = checkIfNoneMatch(headers.ifNoneMatch, current);
  if (ifNoneMatch === "fail") return isGetOrHead ? "not-modified" : "precondition-failed";
  if (
    ifNoneMatch === "none" && isGetOrHead &&
    checkIfModifiedSince(headers.ifModifiedSince, current) === "fail"
  ) {
    return "not-modified";
  }
  return "proceed";
}

/**
 * If-Match (RFC 9110 §13.1.1): `*` passes when the resource exists; a list
 * passes when a member matches the current entity-tag strongly. It fails
 * whenever the resource does not exist, and when no member is valid.
 */
function checkIfMatch(value: string | undefined, current: Validators | null): Condition {
  if (value === undefined) return "none";
  if (current === null) return "fail";
  const tags = parseETagList(value);
  if (tags === "*") return "pass";
  const currentTag = parseEntityTag(current.etag);
  if (currentTag === null) return "fail";
  return tags.some((tag) => strongMatch(tag, currentTag)) ? "pass" : "fail";
}

/**
 * If-Unmodified-Since (RFC 9110 §13.1.4): fails when the resource changed after
 * the date. Ignored without a resource (no modification date) or a valid date.
 */
function checkIfUnmodifiedSince(value: string | undefined, current: Validators | null): Condition {
  if (value === undefined || current === null) return "none";
  const date = parseHttpDate(value);
  if (date === null) return "none";
  return floorToSecond(current.lastModified) > date ? "fail" : "pass";
}

/**
 * If-None-Match (RFC 9110 §13.1.2): fails when `*` is given and the resource
 * exists, or when a member matches the current entity-tag weakly.
 */
function checkIfNoneMatch(value: string | undefined, current: Validators | null): Condition {
  if (value === undefined) return "none";
  if (current === null) return "pass";
  // What a cache sends back almost always: the one current tag, as it got it
  // (a valid entity-tag, as `Validators.etag` always is), so no list to parse.
  if (value === current.etag) return "fail";
  const tags = parseETagList(value);
  if (tags === "*") return "fail";
  const currentTag = parseEntityTag(current.etag);
  if (currentTag === null) return "pass";
  return tags.some((tag) => weakMatch(tag, currentTag)) ? "fail" : "pass";
}

/**
 * If-Modified-Since (RFC 9110 §13.1.3): fails (not modified) when the resource
 * has not changed since the date. Ignored without a resource or a valid date.
 */
function checkIfModifiedSince(value: string | undefined, current: Validators | null): Condition {
  if (value === undefined || current === null) return "none";
  const date = parseHttpDate(value);
  if (date === null) return "none";
  return floorToSecond(current.lastModified) <= date ? "fail" : "pass";
}

/**
 * If-Range (RFC 9110 §13.1.5): whether the Range header should be honoured.
 * Absent → true. An entity-tag must match the current one strongly (a weak tag
 * never does). A date must equal Last-Modified exactly, and only counts when
 * Last-Modified is a strong validator: at least one second before `nowMs`, so
 * no second version of the file can share its timestamp. Anything else,
 * including an invalid value, → false: serve the whole representation.
 *
 * @param ifRange the If-Range value, `undefined` when absent
 * @param current the current validators
 * @param nowMs the current time in ms since the epoch
 *
 * @example
 * ```ts
 * const current = { etag: '"a"', lastModified: 784111777000 };
 * ifRangeAllowsRange('"a"', current, Date.now()); // true
 * ifRangeAllowsRange('W/"a"', current, Date.now()); // false
 * ```
 */
export function ifRangeAllowsRange(
  ifRange: string | undefined,
  current: Validators,
  nowMs: number,
): boolean {
  if (ifRange === undefined) return true;
  const tag = parseEntityTag(ifRange);
  if (tag !== null) {
    const currentTag = parseEntityTag(current.etag);
    return currentTag !== null && strongMatch(tag, currentTag);
  }
  const date = parseHttpDate(ifRange);
  return date === floorToSecond(current.lastModified) && nowMs - current.lastModified >= 1000;
}

/**
 * Parses an If-Match / If-None-Match value: `"*"` for a lone `*` (any current
 * representation), otherwise the entity-tags of the comma-separated list.
 * Spaces and tabs around members and empty members are allowed; malformed
 * members (no quotes, bad characters, a lowercase `w/`, a `*` inside a list)
 * are skipped. Commas inside an opaque-tag are part of the tag.
 *
 * @param value the header value
 * @returns `"*"`, or the valid entity-tags in order (possibly none)
 *
 * @example
 * ```ts
 * parseETagList('"a", W/"b"'); // [{ weak: false, tag: "a" }, { weak: true, tag: "b" }]
 * ```
 */
export function parseETagList(value: string): "*" | EntityTag[] {
  const first = skipOws(value, 0);
  if (value[first] === "*" && skipOws(value, first + 1) === value.length) return "*";
  const tags: EntityTag[] = [];
  let position = 0;
  while (position < value.length) {
    const char = value[position];
    if (char === " " || char === "\t" || char === ",") {
      position++;
      continue;
    }
    const scanned = scanEntityTag(value, position);
    if (scanned !== null) {
      const after = skipOws(value, scanned.end);
      if (after === value.length || value[after] === ",") {
        tags.push(scanned.tag);
        position = after;
        continue;
      }
    }
    // A malformed member: resume after the next comma.
    const comma = value.indexOf(",", position);
    position = comma < 0 ? value.length : comma + 1;
  }
  return tags;
}

/** Parses a value that must be exactly one entity-tag (with optional OWS around). */
function parseEntityTag(value: string): EntityTag | null {
  const scanned = scanEntityTag(value, skipOws(value, 0));
  return scanned !== null && skipOws(value, scanned.end) === value.length ? scanned.tag : null;
}

/**
 * Reads `[W/]"opaque"` at `start`: the tag and the index just past its closing
 * quote, or `null` if there is none. etagc is %x21 / %x23-7E / %x80-FF.
 */
function scanEntityTag(value: string, start: number): { tag: EntityTag; end: number } | null {
  const weak = value.startsWith("W/", start);
  const open = weak ? start + 2 : start;
  if (value[open] !== '"') return null;
  for (let i = open + 1; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x22) return { tag: { weak, tag: value.slice(open + 1, i) }, end: i + 1 };
    const isEtagc = code === 0x21 || (code >= 0x23 && code <= 0x7e) ||
      (code >= 0x80 && code <= 0xff);
    if (!isEtagc) return null;
  }
  return null;
}

/** Index of the first character at or after `position` that is not SP or HTAB. */
function skipOws(value: string, position: number): number {
  while (value[position] === " " || value[position] === "\t") position++;
  return position;
}

/** Strong comparison (RFC 9110 §8.8.3.2): both strong and the same opaque-tag. */
function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.tag === b.tag;
}

/** Weak comparison (RFC 9110 §8.8.3.2): the same opaque-tag, either may be weak. */
function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.tag === b.tag;
}

/** HTTP dates have whole seconds, so file times compare at that precision. */
function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/**
 * The condition of a write by `method` with these conditional headers, for
 * the store to check against what is at the target right before it acts:
 * 409 when a directory is there, 412 when a precondition fails (judged by the
 * ETag and date a GET of the target gives).
 */
export function writeCondition(method: string, headers: ConditionalHeaders): WriteCondition {
  return {
    createOnly: headers.ifNoneMatch?.trim() === "*",
    check(current: StoredEntry | null): void {
      if (current?.kind === "directory") throw new HttpError(409, "The target is a directory");
      const validators = current === null
        ? null
        : { etag: current.etag, lastModified: current.lastModified };
      if (checkPreconditions(method, headers, validators) !== "proceed") {
        throw new HttpError(412, "Precondition failed");
      }
    },
  };
}
