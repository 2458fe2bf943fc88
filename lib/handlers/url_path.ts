/**
 * Request paths to store paths and back: the one place that decodes a
 * request-target's path into validated segments (the store's paths) and
 * encodes segments into URLs. Every naming rule lives here: strict
 * percent-decoding, segment validation, dot-segment resolution, names the
 * store reserves, dotfiles.
 *
 * Order matters and is deliberate: the raw path is split on "/" first, then
 * each segment is decoded exactly once, then validated, then dot-segments are
 * resolved. So `%2e%2e` is `..` (and is resolved, never passed through), `%2F`
 * can never become a separator, and `%252e` is the literal name `%2e`.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import { TEMP_PREFIX } from "../storage/temp_files.ts";

/** Result of decoding a request path. */
export interface UrlPath {
  /** Decoded, validated path segments, with "." and empty segments dropped and ".." resolved. [] is ROOT. */
  segments: string[];
  /** Whether the raw path ended with "/" (after normalisation; "/" itself is true). */
  trailingSlash: boolean;
}

/** Longest file name (in UTF-8 bytes) common file systems accept. */
const MAX_SEGMENT_BYTES = 255;

/**
 * Strict UTF-8: malformed, overlong and surrogate sequences throw.
 * `ignoreBOM` keeps a leading U+FEFF as part of the name instead of silently
 * stripping it, so decoding never changes a name behind the validator's back.
 */
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** C0 controls, DEL and C1 controls: never part of a sane file name, and a log-injection risk. */
function hasControlChar(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code <= 0x1F || (code >= 0x7F && code <= 0x9F)) return true;
  }
  return false;
}

/**
 * Windows device names, which open a device instead of a file whatever the
 * extension ("con.txt", "NUL.tar.gz") and even with spaces before the dot.
 * Refused on every platform so a tree served here can be copied anywhere.
 */
const WINDOWS_DEVICE_NAME =
  /^(con|prn|aux|nul|conin\$|conout\$|(com|lpt)[0-9\u00B9\u00B2\u00B3]) *(\..*)?$/i;

/**
 * 8.3 short-name alias marker ("PROGRA~1", ".FILED~1"). NTFS may give any long
 * name such an alias, which would let a request reach a hidden or temp file
 * under a name our checks never see. On other systems "~1" is just text, so
 * this is only enforced when the server runs on Windows.
 */
const SHORT_NAME_MARKER = /~\d/;

function badPath(): HttpError {
  return new HttpError(400, "Invalid request path");
}

/** Percent-decodes one raw segment exactly once; returns the name and its UTF-8 size. */
function percentDecodeSegment(raw: string): { name: string; byteLength: number } {
  // Every raw char is printable ASCII (checked by the caller), so one char is one byte,
  // and a segment without "%" is its own name (no buffer, no decoder call: most of them).
  if (!raw.includes("%")) return { name: raw, byteLength: raw.length };
  const bytes = new Uint8Array(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25 /* % */) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX_PAIR.test(hex)) throw badPath();
      bytes[length++] = parseInt(hex, 16);
      i += 2;
    } else {
      bytes[length++] = code;
    }
  }
  try {
    return { name: utf8Decoder.decode(bytes.subarray(0, length)), byteLength: length };
  } catch {
    throw badPath();
  }
}

function isDotSegment(segment: string): boolean {
  return segment === "." || segment === "..";
}

/** Throws HttpError(400) unless a decoded segment is a safe, portable name (or "", ".", ".."). */
function validateSegment(name: string, byteLength: number, os: typeof Deno.build.os): void {
  if (name === "" || isDotSegment(name)) return;
  if (byteLength > MAX_SEGMENT_BYTES) throw badPath();
  if (hasControlChar(name)) throw badPath();
  // "/" would split the name again; "\\" is a separator on Windows; ":" opens
  // NTFS alternate data streams ("x::$DATA") and drive letters ("C:").
  if (name.includes("/") || name.includes("\\") || name.includes(":")) throw badPath();
  // Windows silently strips trailing dots and spaces, so "file." would reach
  // "file" and "... " could act like "..".
  if (name.endsWith(".") || name.endsWith(" ")) throw badPath();
  if (WINDOWS_DEVICE_NAME.test(name)) throw badPath();
  if (os === "windows" && SHORT_NAME_MARKER.test(name)) throw badPath();
}

/**
 * Case-folds a name the way a case-insensitive file system (macOS, Windows)
 * might, so ".FILEDROP-TMP-x" or ".ﬁledrop-tmp-x" (ligature) cannot reach a
 * temp file there. Over-matching on a case-sensitive system only hides names
 * that look like temp files, which is harmless.
 */
function foldCase(name: string): string {
  return name.normalize("NFKC").toUpperCase().toLowerCase();
}

function isTempName(name: string): boolean {
  // No folding turns an ASCII first character other than "." into one: most names end here.
  const first = name.charCodeAt(0);
  if (first < 0x80 && first !== 0x2e) return false;
  return foldCase(name).startsWith(TEMP_PREFIX);
}

/**
 * Decodes the path part of a request-target (the part before "?", still percent-encoded, e.g. "/a%20b/c.txt"). Throws HttpError(400) on anything invalid; HttpError(404) when a segment starts with TEMP_PREFIX.
 *
 * A ".." that would climb above ROOT is a 400: the path never leaves ROOT,
 * and it is not silently clamped either, so no request means two things.
 * The TEMP_PREFIX check is case-insensitive and applies to the resolved
 * segments (the names actually opened).
 *
 * @param rawPath the still-encoded path, starting with "/"
 * @param os the platform whose naming rules apply; only tests pass anything but the default
 * @example
 * ```ts
 * decodeUrlPath("/docs/caf%C3%A9/"); // { segments: ["docs", "café"], trailingSlash: true }
 * ```
 */
export function decodeUrlPath(rawPath: string, os: typeof Deno.build.os = Deno.build.os): UrlPath {
  if (!rawPath.startsWith("/")) throw badPath();
  for (let i = 0; i < rawPath.length; i++) {
    const code = rawPath.charCodeAt(i);
    if (code < 0x21 || code > 0x7E) throw badPath();
  }

  const decoded = rawPath.slice(1).split("/").map((raw) => {
    const { name, byteLength } = percentDecodeSegment(raw);
    validateSegment(name, byteLength, os);
    return name;
  });

  const segments: string[] = [];
  for (const name of decoded) {
    if (name === "" || name === ".") continue;
    if (name === "..") {
      if (segments.length === 0) throw badPath();
      segments.pop();
    } else {
      segments.push(name);
    }
  }
  if (segments.some(isTempName)) throw new HttpError(404, "Not found");

  // A final "", "." or ".." names a directory: "/a/." and "/a/b/.." are "/a/".
  const last = decoded[decoded.length - 1];
  return { segments, trailingSlash: last === "" || isDotSegment(last) };
}

/**
 * True when any segment starts with "." (a dotfile or dot-directory), except a first segment ".well-known".
 *
 * @param segments decoded segments, as from {@link decodeUrlPath}
 */
export function isHiddenPath(segments: readonly string[]): boolean {
  return segments.some((segment, index) =>
    segment.startsWith(".") && !(index === 0 && segment === ".well-known")
  );
}

/** encodeURIComponent leaves these unescaped; they can end a quoted HTML attribute or a header token. */
const RFC3986_SUB_DELIMS = /[!'()*]/g;

function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    RFC3986_SUB_DELIMS,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Re-encodes segments as a URL path (each segment percent-encoded with encodeURIComponent-like rules, joined by "/", leading "/", plus trailing "/" when asked). Output is always a same-origin path: never starts with "//" or "/\\".
 *
 * Only unreserved characters stay literal (`!'()*` are escaped too), so the
 * output is safe inside a quoted HTML attribute or a `Location` header.
 * Empty, "." and ".." segments cannot be represented (the first would make a
 * "//" host reference, the others would be resolved away), so they throw.
 *
 * @param segments decoded segments, as from {@link decodeUrlPath}
 * @param trailingSlash whether to end with "/" (ROOT is always "/")
 * @throws {RangeError} for an empty, "." or ".." segment
 * @example
 * ```ts
 * encodeUrlPath(["a b", "c#d"], true); // "/a%20b/c%23d/"
 * ```
 */
export function encodeUrlPath(segments: readonly string[], trailingSlash: boolean): string {
  if (segments.length === 0) return "/";
  const encoded = segments.map((segment) => {
    if (segment === "" || isDotSegment(segment)) {
      throw new RangeError(`Cannot encode path segment ${JSON.stringify(segment)}`);
    }
    return encodeSegment(segment);
  });
  return `/${encoded.join("/")}${trailingSlash ? "/" : ""}`;
}
