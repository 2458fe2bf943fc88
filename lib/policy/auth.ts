/**
 * `--auth`: the users, and who the HTTP Basic credentials (RFC 7617) of a
 * request name; what that user may do is for lib/policy/access.ts to decide.
 *
 * Timing: user names are compared as fixed-length HMAC digests, against every
 * configured user, without an early exit; an unknown user name is checked
 * against a decoy verifier that does the same work as a real one, so it takes
 * the same path, the same time and gets the same 401 as a wrong password.
 *
 * Guessing: every password check that may fail is paid from the client
 * address's allowance in an {@linkcode AuthThrottle} (lib/policy/auth_throttle.ts
 * explains the design); once it is spent, the client gets 429 with
 * `Retry-After` and its password is not hashed. Credentials that already
 * succeeded are recognised from a cache of their HMACs without hashing or
 * throttling, so a user who has logged in is never delayed by someone else's
 * guessing.
 *
 * @module
 */

import { AuthThrottle } from "./auth_throttle.ts";
import type { Request } from "../http/message.ts";

/** Checks the password of one configured user. */
export interface PasswordVerifier {
  /**
   * Relative work of one {@linkcode PasswordVerifier.verify} call (PBKDF2
   * iterations; 0 for a plain comparison). Unknown users are checked against
   * the decoy of the costliest verifier configured.
   */
  readonly cost: number;
  /**
   * Whether `password` (already NFC-normalized) matches. Takes the same time
   * for every wrong password, whatever its length.
   */
  verify(password: string): Promise<boolean>;
  /** A verifier that does the same work and accepts no password. */
  decoy(): PasswordVerifier;
}

/** One configured user: a name and either a plain password or a salted hash. */
export interface Credential {
  /** The user name, NFC-normalized. */
  user: string;
  /** Checks this user's password. */
  verifier: PasswordVerifier;
}

/** Options of {@linkcode BasicAuth}. */
export interface AuthOptions {
  /** The users; at least one, each name once. */
  credentials: Credential[];
  /** The realm of the challenge; default "filedrop". */
  realm?: string;
  /**
   * Limits failed password checks per client address; default: an
   * {@linkcode AuthThrottle} with its defaults (10 failures, then one per
   * 30 s), one per options object. Tests pass one with a fake clock.
   */
  throttle?: AuthThrottle;
}

/** The prefix of the hash strings {@linkcode hashPassword} produces. */
export const HASH_PREFIX = "$pbkdf2-sha256$";
/** PBKDF2-HMAC-SHA-256 iterations of new hashes (OWASP's 2023 recommendation). */
export const HASH_ITERATIONS = 600_000;
/** How many successfully verified Authorization values are remembered. */
export const VERIFIED_CACHE_SIZE = 256;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MIN_SALT_BYTES = 8;
const MIN_ITERATIONS = 1_000;
/** More would make every request take minutes: surely a typo. */
const MAX_ITERATIONS = 100_000_000;
const DEFAULT_REALM = "filedrop";

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A per-process key: digests of secrets are not comparable across runs or brute-forceable from a dump alone. */
let macKey: Promise<CryptoKey> | null = null;

/** HMAC-SHA-256 of `bytes` under the process key: a fixed-length digest to compare. */
async function mac(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  macKey ??= crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", await macKey, bytes));
}

/** Compares equal-length digests without an early exit. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false; // Digest lengths are fixed and public.
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** Strict standard base64 (padding optional); null for anything else. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

async function pbkdf2(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
  bytes: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

function randomSecret(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** A password given in clear on the command line. */
class PlainPasswordVerifier implements PasswordVerifier {
  readonly cost = 0;
  readonly #password: string;
  #expected: Promise<Uint8Array> | null = null;

  constructor(password: string) {
    this.#password = password.normalize("NFC");
  }

  async verify(password: string): Promise<boolean> {
    this.#expected ??= mac(encoder.encode(this.#password));
    const [expected, given] = await Promise.all([this.#expected, mac(encoder.encode(password))]);
    return constantTimeEqual(expected, given);
  }

  decoy(): PasswordVerifier {
    return new PlainPasswordVerifier(randomSecret());
  }
}

/** A password given as a salted PBKDF2-HMAC-SHA-256 hash. */
class Pbkdf2PasswordVerifier implements PasswordVerifier {
  readonly cost: number;
  readonly #salt: Uint8Array<ArrayBuffer>;
  readonly #hash: Uint8Array;

  constructor(iterations: number, salt: Uint8Array<ArrayBuffer>, hash: Uint8Array) {
    this.cost = iterations;
    this.#salt = salt;
    this.#hash = hash;
  }

  async verify(password: string): Promise<boolean> {
    const derived = await pbkdf2(password, this.#salt, this.cost, this.#hash.length);
    return constantTimeEqual(derived, this.#hash);
  }

  decoy(): PasswordVerifier {
    return new Pbkdf2PasswordVerifier(
      this.cost,
      crypto.getRandomValues(new Uint8Array(this.#salt.length)),
      crypto.getRandomValues(new Uint8Array(this.#hash.length)),
    );
  }
}

function parseHash(hash: string): PasswordVerifier {
  const malformed = new Error(
    `--auth: malformed password hash; expected ${HASH_PREFIX}<iterations>$<salt>$<hash> ` +
      "as printed by hash-password",
  );
  const parts = hash.slice(HASH_PREFIX.length).split("$");
  if (parts.length !== 3 || !/^[1-9][0-9]{0,8}$/.test(parts[0])) throw malformed;
  const iterations = Number(parts[0]);
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new Error(
      `--auth: hash iterations must be between ${MIN_ITERATIONS} and ${MAX_ITERATIONS}`,
    );
  }
  const salt = fromBase64(parts[1]);
  const digest = fromBase64(parts[2]);
  if (salt === null || digest === null) throw malformed;
  if (salt.length < MIN_SALT_BYTES) throw new Error("--auth: the hash's salt is too short");
  if (digest.length !== HASH_BYTES) throw malformed;
  return new Pbkdf2PasswordVerifier(iterations, salt, digest);
}

/**
 * Parses a `--auth` value: "user:password" or "user:$pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>"
 * (the format produced by {@linkcode hashPassword}). The user name ends at the
 * first ":"; a password that starts with `$pbkdf2-sha256$` is always read as a
 * hash. Throws a plain Error for a bad value; the message never quotes it.
 */
export function parseCredential(value: string): Credential {
  const colon = value.indexOf(":");
  if (colon === -1) {
    throw new Error('--auth expects "user:password" or "user:<hash from hash-password>"');
  }
  const user = value.slice(0, colon).normalize("NFC");
  const secret = value.slice(colon + 1);
  if (user === "") throw new Error("--auth: the user name is empty");
  // deno-lint-ignore no-control-regex -- RFC 7617 §2: a user-id has no control characters.
  if (/[\x00-\x1f\x7f]/.test(user)) {
    throw new Error("--auth: the user name contains a control character");
  }
  if (secret === "") throw new Error("--auth: the password is empty");
  const verifier = secret.startsWith(HASH_PREFIX)
    ? parseHash(secret)
    : new PlainPasswordVerifier(secret);
  return { user, verifier };
}

/**
 * Produces the salted hash string for a password (PBKDF2-HMAC-SHA-256,
 * {@linkcode HASH_ITERATIONS} iterations, 16-byte random salt), for
 * `--auth 'user:<hash>'`. Used by the `hash-password` subcommand.
 */
export async function hashPassword(password: string): Promise<string> {
  if (password === "") throw new Error("The password is empty");
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(password.normalize("NFC"), salt, HASH_ITERATIONS, HASH_BYTES);
  return `${HASH_PREFIX}${HASH_ITERATIONS}$${toBase64(salt)}$${toBase64(hash)}`;
}

/** The outcome of {@linkcode BasicAuth.authenticate}. */
export type Verdict =
  | { kind: "accepted"; user: string }
  | { kind: "absent" }
  | { kind: "refused" }
  | { kind: "throttled"; retryAfterMs: number };

const ABSENT: Verdict = { kind: "absent" };
const REFUSED: Verdict = { kind: "refused" };

function quoteString(text: string): string {
  return `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/** The user and password of a Basic Authorization value; null when it is not well-formed. */
export function decodeBasicCredentials(
  header: string,
): { user: string; password: string } | null {
  const match = /^basic +([^ ]+) *$/i.exec(header);
  if (match === null) return null;
  const bytes = fromBase64(match[1]);
  if (bytes === null) return null;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon === -1) return null;
  return {
    user: text.slice(0, colon).normalize("NFC"),
    password: text.slice(colon + 1).normalize("NFC"),
  };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The users of `--auth` and the checking of their Basic credentials: who a
 * request's `Authorization` names, never what that user may do (the access
 * rules of lib/policy/access.ts decide that). Throws at once for bad options
 * (no users, a user twice, a realm with control characters).
 */
export class BasicAuth {
  /** The `WWW-Authenticate` value of a 401. */
  readonly challenge: string;
  /** The configured user names, NFC-normalized. */
  readonly users: readonly string[];
  readonly #credentials: Credential[];
  /** HMAC digests of the user names, in credential order. */
  readonly #userDigests: Promise<Uint8Array[]>;
  /** What unknown user names are checked against. */
  readonly #decoy: PasswordVerifier;
  /**
   * HMAC digests (hex) of Authorization values that verified, least recently
   * used first, with the user each names. Only successes enter, so guessing
   * cannot evict a user's entry.
   */
  readonly #verified = new Map<string, string>();
  /** Checks in progress by Authorization digest: concurrent identical requests share one. */
  readonly #pending = new Map<string, Promise<boolean>>();
  /** The allowance of password checks per client address. */
  readonly #throttle: AuthThrottle;

  /** @param options the users, the realm and the throttle */
  constructor(options: AuthOptions) {
    const credentials = options.credentials;
    if (credentials.length === 0) throw new Error("--auth: no users configured");
    const names = credentials.map((credential) => credential.user.normalize("NFC"));
    if (new Set(names).size !== credentials.length) {
      throw new Error("--auth: a user is listed twice");
    }
    const realm = options.realm ?? DEFAULT_REALM;
    // deno-lint-ignore no-control-regex -- a header value cannot hold control characters.
    if (/[\x00-\x1f\x7f]/.test(realm)) {
      throw new Error("The auth realm contains a control character");
    }
    const costliest = credentials.reduce((a, b) => b.verifier.cost > a.verifier.cost ? b : a);
    this.users = names;
    this.#credentials = credentials;
    this.#userDigests = Promise.all(names.map((name) => mac(encoder.encode(name))));
    this.#decoy = costliest.verifier.decoy();
    this.#throttle = options.throttle ?? new AuthThrottle();
    this.challenge = `Basic realm=${quoteString(realm)}, charset="UTF-8"`;
  }

  /**
   * Checks the request's Basic credentials: "absent" without an
   * `Authorization` header, "throttled" when they would need a password check
   * that the client's allowance no longer covers. Never throws for a bad
   * header: that is just "refused".
   */
  async authenticate(request: Request): Promise<Verdict> {
    const header = request.headers.get("authorization");
    if (header === undefined) return ABSENT;
    const key = hex(await mac(encoder.encode(header)));
    const known = this.#verified.get(key);
    if (known !== undefined) {
      // Move to the newest end, so the cache evicts the least recently used.
      this.#verified.delete(key);
      this.#verified.set(key, known);
      return { kind: "accepted", user: known };
    }
    const pair = decodeBasicCredentials(header);
    if (pair === null) return REFUSED; // Costs no hashing, so it takes nothing from the allowance.

    const shared = this.#pending.get(key);
    // The same value is being checked already: share its result, its cost and its allowance.
    if (shared !== undefined) return await shared ? { kind: "accepted", user: pair.user } : REFUSED;

    const retryAfterMs = this.#throttle.take(request.remoteAddr);
    if (retryAfterMs > 0) return { kind: "throttled", retryAfterMs };
    const check = this.#checkPassword(pair.user, pair.password);
    this.#pending.set(key, check);
    let matches: boolean;
    try {
      matches = await check;
    } finally {
      this.#pending.delete(key);
    }
    if (!matches) return REFUSED;

    // A right password uses none of the allowance: only failures do.
    this.#throttle.refund(request.remoteAddr);
    this.#verified.set(key, pair.user);
    if (this.#verified.size > VERIFIED_CACHE_SIZE) {
      this.#verified.delete(this.#verified.keys().next().value!);
    }
    return { kind: "accepted", user: pair.user };
  }

  /** Whether `password` is right for `user`: one verification whether or not the user exists. */
  async #checkPassword(user: string, password: string): Promise<boolean> {
    const given = await mac(encoder.encode(user));
    const digests = await this.#userDigests;
    let index = -1;
    for (let i = 0; i < digests.length; i++) {
      // Every name is compared: no early exit on the first match.
      const same = constantTimeEqual(digests[i], given);
      index = same ? i : index;
    }
    const verifier = index === -1 ? this.#decoy : this.#credentials[index].verifier;
    const matches = await verifier.verify(password);
    return matches && index !== -1;
  }
}
