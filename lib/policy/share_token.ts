/**
 * Share-link tokens: a grant (scope, path, expiry, byte limit, id) signed
 * with HMAC-SHA-256, encoded compact and URL-safe; signing, verification and
 * the rule of what a link may do. Sans-IO: the secret, the clock and the
 * revocation list come from the caller.
 *
 * A token is base64url (no padding) of
 * `version(1) scope(1) id(8) expires(4, seconds since the epoch, big-endian)
 * maxBytes(8, big-endian, 0 = none) path(UTF-8, segments joined by "/") mac(32)`,
 * where `mac` is HMAC-SHA-256 under the server's secret of
 * {@linkcode MAC_CONTEXT} followed by everything before it. The grant is
 * signed, not encrypted: whoever holds a link can read its path and expiry.
 *
 * @module
 */

import { decodeUrlPath, encodeUrlPath } from "../handlers/url_path.ts";

/** The URL path under which link requests live; the token is the next segment. */
export const SHARE_PATH_PREFIX = "/.well-known/filedrop-share/";

/** What a link lets its holder do: drop files into a folder, or read below a path. */
export type ShareScope = "upload" | "read";

/** The content of a token: what it grants, to whom holds it. */
export interface ShareGrant {
  /** Upload-only drop (`upload`) or read-only (`read`). */
  scope: ShareScope;
  /** 16 lowercase hex digits: what a revocation names. */
  id: string;
  /** The path it grants (decoded segments; `[]` is ROOT). */
  path: string[];
  /** When it stops working, in ms since the epoch (whole seconds). */
  expiresAt: number;
  /** Most bytes an upload link may store in all, or null for no limit beyond the server's. */
  maxBytes: number | null;
}

/** Why a token is refused. */
export type ShareRejection = "malformed" | "forged" | "expired" | "revoked";

/** The one token format this version writes and reads. */
export const TOKEN_VERSION = 1;

/** Prepended to the signed bytes, so a MAC made for anything else under the same secret never verifies. */
const MAC_CONTEXT = new TextEncoder().encode("filedrop share link\0");

const SCOPE_CODES: Record<ShareScope, number> = { upload: 1, read: 2 };
const MAC_BYTES = 32;
const HEADER_BYTES = 1 + 1 + 8 + 4 + 8;
/** Longest path a token carries, in UTF-8 bytes: keeps URLs within every limit on the way. */
export const MAX_TOKEN_PATH_BYTES = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const HEX_ID = /^[0-9a-f]{16}$/;

/** The HMAC key of a secret (raw bytes, at least 16 of them). */
export async function importShareKey(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  if (secret.length < 16) throw new RangeError("a share secret needs at least 16 bytes");
  return await crypto.subtle.importKey(
    "raw",
    secret,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** A fresh random link id: 16 hex digits (64 bits). */
export function newShareId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function macInput(body: Uint8Array): Uint8Array<ArrayBuffer> {
  const input = new Uint8Array(MAC_CONTEXT.length + body.length);
  input.set(MAC_CONTEXT);
  input.set(body, MAC_CONTEXT.length);
  return input;
}

/** Signs `grant` into a token. Throws RangeError for a grant no token can carry. */
export async function signShareToken(key: CryptoKey, grant: ShareGrant): Promise<string> {
  if (!HEX_ID.test(grant.id)) throw new RangeError("a link id is 16 lowercase hex digits");
  const seconds = grant.expiresAt / 1000;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffffffff) {
    throw new RangeError("a link's expiry is a whole second before 2106");
  }
  if (grant.maxBytes !== null && !(Number.isSafeInteger(grant.maxBytes) && grant.maxBytes > 0)) {
    throw new RangeError("a link's byte limit is a positive whole number");
  }
  const path = new TextEncoder().encode(grant.path.join("/"));
  if (path.length > MAX_TOKEN_PATH_BYTES || !isCanonicalPath(grant.path)) {
    throw new RangeError("a link's path must be a valid path of at most 2048 bytes");
  }
  const body = new Uint8Array(HEADER_BYTES + path.length);
  const view = new DataView(body.buffer);
  body[0] = TOKEN_VERSION;
  body[1] = SCOPE_CODES[grant.scope];
  for (let i = 0; i < 8; i++) body[2 + i] = parseInt(grant.id.slice(2 * i, 2 * i + 2), 16);
  view.setUint32(10, seconds);
  view.setBigUint64(14, BigInt(grant.maxBytes ?? 0));
  body.set(path, HEADER_BYTES);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, macInput(body)));
  const token = new Uint8Array(body.length + MAC_BYTES);
  token.set(body);
  token.set(mac, body.length);
  return token.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Whether `segments` are exactly what the URL decoder makes of them (no "..", "", "/", controls...). */
function isCanonicalPath(segments: readonly string[]): boolean {
  try {
    const decoded = decodeUrlPath(encodeUrlPath(segments, false)).segments;
    return decoded.length === segments.length && decoded.every((s, i) => s === segments[i]);
  } catch {
    return false;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Checks a token and reads its grant: the MAC first (in constant time, by
 * `crypto.subtle.verify`), then the expiry against `nowMs`, then `isRevoked`.
 * Never throws for a bad token: it says why it refused.
 */
export async function verifyShareToken(
  key: CryptoKey,
  token: string,
  nowMs: number,
  isRevoked: (id: string) => boolean = () => false,
): Promise<ShareGrant | ShareRejection> {
  // The longest a token can be; the character check also refuses base64's whitespace skipping.
  const maxChars = Math.ceil((HEADER_BYTES + MAX_TOKEN_PATH_BYTES + MAC_BYTES) * 4 / 3);
  if (token.length > maxChars || !BASE64URL.test(token)) return "malformed";
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Uint8Array.fromBase64(token, { alphabet: "base64url" });
  } catch {
    return "malformed";
  }
  // One spelling per token: spare bits set in the last character would decode the same.
  if (bytes.toBase64({ alphabet: "base64url", omitPadding: true }) !== token) return "malformed";
  if (bytes.length < HEADER_BYTES + MAC_BYTES || bytes[0] !== TOKEN_VERSION) return "malformed";
  const body = bytes.subarray(0, bytes.length - MAC_BYTES);
  const mac = bytes.slice(bytes.length - MAC_BYTES);
  if (!(await crypto.subtle.verify("HMAC", key, mac, macInput(body)))) return "forged";
  // Signed by us, so well formed unless the format itself is wrong; checked all the same.
  const scope = (Object.keys(SCOPE_CODES) as ShareScope[]).find((s) => SCOPE_CODES[s] === body[1]);
  if (scope === undefined) return "malformed";
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const id = Array.from(body.subarray(2, 10), (b) => b.toString(16).padStart(2, "0")).join("");
  const expiresAt = view.getUint32(10) * 1000;
  const maxBig = view.getBigUint64(14);
  if (maxBig > BigInt(Number.MAX_SAFE_INTEGER)) return "malformed";
  let pathText: string;
  try {
    pathText = utf8.decode(body.subarray(HEADER_BYTES));
  } catch {
    return "malformed";
  }
  const path = pathText === "" ? [] : pathText.split("/");
  if (!isCanonicalPath(path)) return "malformed";
  if (nowMs >= expiresAt) return "expired";
  if (isRevoked(id)) return "revoked";
  return { scope, id, path, expiresAt, maxBytes: maxBig === 0n ? null : Number(maxBig) };
}

/** What a link request is, for {@linkcode linkPermits}. */
export interface LinkRequest {
  /** The method. */
  method: string;
  /** The path below the link's path (decoded segments, dot-segments already resolved inside it). */
  rest: readonly string[];
}

/**
 * Whether the handler of link requests serves `request` for a link of
 * `scope` (what it may then do is the access decision's, see
 * `linkAllows` in lib/policy/access.ts). A read link reads (GET, HEAD,
 * OPTIONS) anything below its path and nothing else; an upload link shows
 * its drop page (GET, HEAD, OPTIONS of the path itself) and creates files
 * directly in it (PUT of one name), and nothing else: no reads of what is
 * there, no folders, no WebDAV.
 */
export function linkPermits(scope: ShareScope, request: LinkRequest): boolean {
  const { method, rest } = request;
  if (method === "OPTIONS") return true;
  if (scope === "read") return method === "GET" || method === "HEAD";
  if (method === "GET" || method === "HEAD") return rest.length === 0;
  return method === "PUT" && rest.length === 1;
}
