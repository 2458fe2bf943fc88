/**
 * Integrity fields: verifies `Content-Digest`, `Repr-Digest` (RFC 9530) and
 * `Content-MD5` (RFC 1864) of uploads while they stream, and computes the
 * `Repr-Digest` of stored files.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";
import { HttpError } from "../http/errors.ts";

/** Digest algorithms this server checks, by their RFC 9530 key, with node:crypto names. */
const ALGORITHMS: Record<string, string> = { "sha-256": "sha256", "sha-512": "sha512" };

interface Expected {
  field: string;
  algorithm: string;
  value: Uint8Array;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string, field: string): Uint8Array {
  if (!BASE64.test(text) || text.length % 4 !== 0) throw new HttpError(400, `Invalid ${field}`);
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * Parses an RFC 9530 digest dictionary (`sha-256=:base64:, sha-512=:…:`);
 * algorithms this server does not implement are skipped, malformed members
 * are 400 (a client that asked for integrity must not be ignored silently).
 */
function parseDigestField(field: string, value: string): Expected[] {
  const expected: Expected[] = [];
  for (const member of value.split(",")) {
    const match = /^\s*([a-z][a-z0-9_\-.*]*)=:([^:]*):(;.*)?\s*$/.exec(member);
    if (match === null) throw new HttpError(400, `Invalid ${field}`);
    const algorithm = ALGORITHMS[match[1]];
    if (algorithm !== undefined) {
      expected.push({ field, algorithm, value: decodeBase64(match[2], field) });
    }
  }
  return expected;
}

/**
 * The digests of an upload: what the client announced, checked as the body
 * streams, and the `Repr-Digest` of what was stored.
 *
 * @example
 * ```ts
 * const digests = UploadDigests.fromHeaders(request.headers); // 400 if malformed
 * digests.update(chunk);
 * digests.verify(); // 400 on a mismatch
 * response.headers.push(["Repr-Digest", digests.reprDigest()]);
 * ```
 */
export class UploadDigests {
  readonly #expected: Expected[];
  readonly #hashes = new Map<string, Hash>();

  private constructor(expected: Expected[], reprDigest: boolean) {
    this.#expected = expected;
    if (reprDigest) this.#hashes.set("sha256", createHash("sha256"));
    for (const { algorithm } of expected) {
      if (!this.#hashes.has(algorithm)) this.#hashes.set(algorithm, createHash(algorithm));
    }
  }

  /**
   * Reads Content-Digest, Repr-Digest and Content-MD5 from lowercase request
   * headers. `reprDigest: false` skips the body's sha-256 unless a field
   * needs it (see {@linkcode UploadDigests.hasReprDigest}).
   */
  static fromHeaders(
    headers: ReadonlyMap<string, string>,
    options: { reprDigest?: boolean } = {},
  ): UploadDigests {
    const expected: Expected[] = [];
    for (const field of ["content-digest", "repr-digest"]) {
      const value = headers.get(field);
      if (value !== undefined) expected.push(...parseDigestField(field, value));
    }
    const md5 = headers.get("content-md5");
    if (md5 !== undefined) {
      const value = decodeBase64(md5.trim(), "Content-MD5");
      if (value.length !== 16) throw new HttpError(400, "Invalid Content-MD5");
      expected.push({ field: "content-md5", algorithm: "md5", value });
    }
    return new UploadDigests(expected, options.reprDigest ?? true);
  }

  /** Whether the body's sha-256 is computed, so that {@linkcode UploadDigests.reprDigest} has it. */
  get hasReprDigest(): boolean {
    return this.#hashes.has("sha256");
  }

  /** Feeds body bytes. */
  update(chunk: Uint8Array): void {
    for (const hash of this.#hashes.values()) hash.update(chunk);
  }

  /**
   * Finishes the hashes and compares them with what the client sent; throws
   * 400 on a mismatch. Call once, after the whole body.
   */
  verify(): void {
    const results = new Map<string, Uint8Array>();
    for (const [algorithm, hash] of this.#hashes) results.set(algorithm, hash.digest());
    this.#sha256 = results.get("sha256") ?? null;
    for (const { field, algorithm, value } of this.#expected) {
      const actual = results.get(algorithm)!;
      if (actual.length !== value.length || actual.some((byte, i) => byte !== value[i])) {
        throw new HttpError(400, `The body does not match its ${field}`);
      }
    }
  }

  #sha256: Uint8Array | null = null;

  /** The `Repr-Digest` value of the body, after {@linkcode UploadDigests.verify}. */
  reprDigest(): string {
    if (this.#sha256 === null) {
      throw new Error("verify() must come first, with the sha-256 computed");
    }
    return formatSha256(this.#sha256);
  }
}

function formatSha256(bytes: Uint8Array): string {
  return `sha-256=:${btoa(String.fromCharCode(...bytes))}:`;
}

/**
 * Whether a `Want-Repr-Digest` value asks for sha-256: any member
 * `sha-256=N` with N > 0 (RFC 9530 §4).
 */
export function wantsSha256(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value.split(",").some((member) => {
    const match = /^\s*sha-256\s*=\s*(\d+)\s*$/.exec(member);
    return match !== null && Number(match[1]) > 0;
  });
}

/**
 * Whether an upload's answer should carry its `Repr-Digest`: the client asked
 * for sha-256 (`Want-Repr-Digest`, RFC 9530 §4) or sent a digest of its own,
 * so it checks integrity. Nobody else pays for hashing the body (half of a
 * 1 MiB PUT's CPU, measured).
 */
export function wantsReprDigest(headers: ReadonlyMap<string, string>): boolean {
  return wantsSha256(headers.get("want-repr-digest")) || headers.has("content-digest") ||
    headers.has("repr-digest") || headers.has("content-md5");
}

const CACHED_DIGESTS = 1024;
const digestCache = new Map<string, string>();

/**
 * The `Repr-Digest` value of a file version, computed once per ETag and then
 * served from a bounded cache. `read` yields the version's bytes.
 */
export async function reprDigestOf(
  etag: string,
  read: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<string> {
  const cached = digestCache.get(etag);
  if (cached !== undefined) return cached;
  const hash = createHash("sha256");
  for await (const chunk of read()) hash.update(chunk);
  const digest = formatSha256(hash.digest());
  if (digestCache.size >= CACHED_DIGESTS) digestCache.delete(digestCache.keys().next().value!);
  digestCache.set(etag, digest);
  return digest;
}
